"""The tagging grid: thumbnails of the image list's rows, their tags as coloured chips, the
model's suggestions as dashed chips, many selected at once (click, Shift, Ctrl, a dragged band).

The grid shows the image list's own model (one filter, one sort, one set of rows) with a
selection of its own. Its keys are announced as signals: the tagging view acts on them.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelection, QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate

from app.image_list import INFO, draw_thumbnail
from mcc_engine.project.store import ClassInfo, ImageInfo, Suggestion

THUMB = 96  # the list's thumbnails are made 96 px on their long side: drawn 1:1 here
CELL = QSize(THUMB + 30, THUMB + 62)
CHIP_H = 17
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
DIGITS = {getattr(Qt.Key, f"Key_{k}"): k for k in range(1, 10)}
GRID_KEYS = (  # for the shortcut sheet
    ("Shift+click, Ctrl+click, drag", "tagging view: select several images"),
    ("1 … 9", "tagging view: toggle class k on the selected images"),
    ("U", "tagging view: next untagged image"),
    ("Return", "tagging view: the selected images take their suggested tags"),
    ("Ctrl+Z, Ctrl+Shift+Z", "tagging view: undo, redo a tag change"),
)


def _text_on(color: QColor) -> QColor:
    light = color.red() * 0.299 + color.green() * 0.587 + color.blue() * 0.114 > 140
    return QColor(0, 0, 0) if light else QColor(255, 255, 255)


def _runs(rows: list[int]) -> list[list[int]]:
    """Sorted rows as runs of consecutive ones."""
    runs: list[list[int]] = []
    for row in rows:
        if runs and row == runs[-1][-1] + 1:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


class TagDelegate(QStyledItemDelegate):
    """One cell: the thumbnail, chips for the tags (or the suggestions of an untagged image), the
    name; a selected cell is framed in the highlight colour."""

    def __init__(self, grid: TagGrid) -> None:
        super().__init__(grid)
        self.grid = grid
        self.font = QFont(grid.font())
        self.font.setPixelSize(11)

    def sizeHint(self, option, index) -> QSize:
        return CELL

    def paint(self, painter: QPainter, option, index: QModelIndex) -> None:
        image: ImageInfo = index.data(INFO)
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        cell = option.rect.adjusted(3, 3, -3, -3)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if selected:
            fill = QColor(pal.color(QPalette.ColorRole.Highlight))
            fill.setAlpha(70)
            painter.setPen(QPen(pal.color(QPalette.ColorRole.Highlight), 3))
            painter.setBrush(fill)
            painter.drawRoundedRect(cell.adjusted(1, 1, -1, -1), 6, 6)
        box = QRect(cell.x() + (cell.width() - THUMB) // 2, cell.y() + 5, THUMB, THUMB)
        painter.fillRect(box, pal.color(QPalette.ColorRole.AlternateBase))
        draw_thumbnail(painter, index, box)
        painter.setFont(self.font)
        chips = QRect(cell.x() + 4, box.bottom() + 5, cell.width() - 8, 2 * CHIP_H + 2)
        suggestion = self.grid.suggestions.get(image.id)
        if image.labels:
            self._chips(painter, chips, image.labels, dashed=False)
        elif suggestion is not None and suggestion.labels:
            self._chips(painter, chips, suggestion.labels, dashed=True)
        else:
            muted = QColor(pal.color(QPalette.ColorRole.Text))
            muted.setAlpha(150)
            painter.setPen(QPen(muted, 1, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            chip = QRect(chips.x(), chips.y(), 62, CHIP_H)
            painter.drawRoundedRect(chip, 4, 4)
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, "untagged")
        name = QRect(cell.x() + 4, cell.bottom() - 15, cell.width() - 8, 14)
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        elided = painter.fontMetrics().elidedText(
            image.rel_path.rsplit("/", 1)[-1], Qt.TextElideMode.ElideMiddle, name.width()
        )
        painter.drawText(
            name, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, elided
        )
        painter.restore()

    def _chips(self, painter: QPainter, area: QRect, labels, *, dashed: bool) -> None:
        """Chips "k name" in class colours, two rows at most, then "+n"; a suggestion's chips
        are dashed outlines."""
        metrics = painter.fontMetrics()
        named = [self.grid.classes[k] for k in labels if k in self.grid.classes]
        placed: list[tuple[ClassInfo, str, QRect]] = []
        x, y = area.x(), area.y()
        for info in named:
            text = f"{info.index} {info.name}" if info.index <= 9 else info.name
            width = min(area.width(), metrics.horizontalAdvance(text) + 10)
            if x + width > area.right() + 1 and x > area.x():
                x, y = area.x(), y + CHIP_H + 2
            if y + CHIP_H > area.bottom() + 1:
                break
            placed.append((info, text, QRect(x, y, width, CHIP_H)))
            x += width + 3
        hidden = len(named) - len(placed)
        if hidden and placed:  # room for "+n" at the end of the second row: the last chip gives way
            last = placed[-1][2]
            more = QRect(area.right() - 21, last.y(), 22, CHIP_H)
            last.setRight(min(last.right(), more.left() - 3))
            painter.setPen(self.grid.palette().color(QPalette.ColorRole.Text))
            painter.drawText(more, Qt.AlignmentFlag.AlignCenter, f"+{hidden}")
        for info, text, chip in placed:
            color = QColor(*info.color)
            if dashed:
                painter.setPen(QPen(color.darker(130), 1.5, Qt.PenStyle.DashLine))
                painter.setBrush(QColor(color.red(), color.green(), color.blue(), 45))
                painter.drawRoundedRect(chip, 4, 4)
                painter.setPen(self.grid.palette().color(QPalette.ColorRole.Text))
            else:
                painter.setPen(QPen(QColor(120, 120, 120), 1))
                painter.setBrush(color)
                painter.drawRoundedRect(chip, 4, 4)
                painter.setPen(_text_on(color))
            shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, chip.width() - 8)
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, shown)


class TagGrid(QListView):
    """Thumbnails in a grid with extended selection; keys come out as signals."""

    class_key = Signal(int)  # 1-9: toggle class k on the selection
    next_untagged = Signal()  # U
    accept = Signal()  # Enter: take the suggestions of the selection
    undo = Signal()  # Ctrl+Z
    redo = Signal()  # Ctrl+Shift+Z, Ctrl+Y

    def __init__(self) -> None:
        super().__init__()
        self.classes: dict[int, ClassInfo] = {}
        self.suggestions: dict[int, Suggestion] = {}
        self._kept: list[int] = []
        self._kept_current: int | None = None
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setDragEnabled(False)
        self.setGridSize(CELL)
        self.setUniformItemSizes(True)  # thousands of cells lay out without measuring each
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionRectVisible(True)  # a drag from anywhere draws the band it selects
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setItemDelegate(TagDelegate(self))

    def setModel(self, model) -> None:
        super().setModel(model)
        # The list re-reads its rows after a filter or a proposal: the selection survives it.
        model.modelAboutToBeReset.connect(self._keep_selection)
        model.modelReset.connect(self._restore_selection)

    def selected_ids(self) -> list[int]:
        """The selected images' ids, in list order."""
        rows = sorted(index.row() for index in self.selectionModel().selectedIndexes())
        return [self.model().rows[row].id for row in rows]

    def select_ids(self, ids: list[int], *, current: int | None = None) -> None:
        """Select these images (the first, or `current`, becomes current and is scrolled to)."""
        model, selection = self.model(), self.selectionModel()
        rows = sorted(r for r in (model.row_of(i) for i in ids) if r is not None)
        ranges = QItemSelection()  # runs of rows, selected at once: one selectionChanged
        for run in _runs(rows):
            ranges.select(model.index(run[0]), model.index(run[-1]))
        selection.select(ranges, selection.SelectionFlag.ClearAndSelect)
        lead = model.row_of(current) if current is not None else (rows[0] if rows else None)
        if lead is not None:
            selection.setCurrentIndex(model.index(lead), selection.SelectionFlag.NoUpdate)
            self.scrollTo(model.index(lead))

    def _keep_selection(self) -> None:
        self._kept = self.selected_ids()
        current = self.currentIndex()
        self._kept_current = self.model().rows[current.row()].id if current.isValid() else None

    def _restore_selection(self) -> None:
        if self._kept:
            self.select_ids(self._kept, current=self._kept_current)

    def _own_key(self, event) -> bool:
        """Whether a key is the grid's (and so no window shortcut's) while the grid has focus."""
        key, mods = event.key(), event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if mods == Qt.KeyboardModifier.NoModifier:
            return key in DIGITS or key in ENTER or key == Qt.Key.Key_U
        if key == Qt.Key.Key_Z:
            return mods in (CTRL, CTRL | SHIFT)
        return key == Qt.Key.Key_Y and mods == CTRL

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and self._own_key(event):
            event.accept()  # the key comes to keyPressEvent instead of a window shortcut
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        if not self._own_key(event):
            super().keyPressEvent(event)
            return
        key, shift = event.key(), bool(event.modifiers() & SHIFT)
        if key in DIGITS:
            self.class_key.emit(DIGITS[key])
        elif key in ENTER:
            self.accept.emit()
        elif key == Qt.Key.Key_U:
            self.next_untagged.emit()
        elif key == Qt.Key.Key_Y or shift:
            self.redo.emit()
        else:
            self.undo.emit()
