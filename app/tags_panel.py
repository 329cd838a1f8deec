"""The class palette (keys 1-9, show or hide, add and rename classes) and the image's tags."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mcc_engine.errors import InputError
from mcc_engine.project.store import ClassInfo, Project

CLASS = Qt.ItemDataRole.UserRole


def swatch(
    color: tuple[int, int, int], key: str = "", size: int = 18, *, tagged: bool | None = None
) -> QIcon:
    """A colour square with a grey border (dark classes stay visible on a dark list) and the key
    that picks the class; True or False for `tagged` leaves room beside it for a tag mark."""
    ratio = 2.0  # drawn at twice the size: crisp on high-density screens, scaled down elsewhere
    width = size * 2 if tagged is not None else size
    pixmap = QPixmap(round(width * ratio), round(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor(150, 150, 150), 1.0))
    painter.setBrush(QColor(*color))
    painter.drawRoundedRect(QRectF(0.5, 0.5, size - 1, size - 1), 3, 3)
    if key:
        font = QFont()
        font.setPixelSize(size - 6)
        font.setBold(True)
        painter.setFont(font)
        light = sum(c * w for c, w in zip(color, (0.299, 0.587, 0.114))) > 140
        painter.setPen(QColor(0, 0, 0) if light else QColor(255, 255, 255))
        painter.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, key)
    if tagged:
        qta.icon("mdi6.tag").paint(painter, QRect(size + 2, 1, size - 2, size - 2))
    painter.end()
    return QIcon(pixmap)


class ClassPanel(QWidget):
    """Classes in their fixed order (key k is class k on every image; the image's tags are marked,
    never moved); a check box shows or hides a class in the overlay; double-click renames, the
    field adds. Edits go to the project; `classes_changed` tells the window to redraw."""

    class_picked = Signal(int)
    classes_changed = Signal()
    visibility_changed = Signal(set)  # the hidden class indices
    failed = Signal(str)

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project
        self.hidden: set[int] = set()
        self.list = QListWidget()
        self.list.setIconSize(QSize(36, 18))
        self.list.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.new_name = QLineEdit(placeholderText="New class name")
        add = QToolButton(icon=qta.icon("mdi6.plus"), toolTip="Add the class")
        add.clicked.connect(self.add_from_field)
        self.new_name.returnPressed.connect(self.add_from_field)
        row = QHBoxLayout()
        row.addWidget(self.new_name)
        row.addWidget(add)
        hint = QLabel("Keys 1-9 pick a class. Tick: shown. Double-click: rename.")
        hint.setWordWrap(True)
        hint.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.list)
        layout.addLayout(row)
        layout.addWidget(hint)
        self.list.currentRowChanged.connect(self._picked)
        self.list.itemChanged.connect(self._item_changed)

    def show_classes(self, classes: list[ClassInfo], tagged: set[int]) -> None:
        """Fill the palette in class order, the image's tags in bold with a tag mark."""
        keep = self.current_class()
        self.list.blockSignals(True)
        self.list.clear()
        for row, c in enumerate(classes):
            is_tag = c.index in tagged
            key = str(row + 1) if row < 9 else ""
            item = QListWidgetItem(swatch(c.color, key, tagged=is_tag), c.name)
            item.setData(CLASS, c.index)
            item.setFlags(
                item.flags() | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsUserCheckable
            )
            hidden = c.index in self.hidden
            item.setCheckState(Qt.CheckState.Unchecked if hidden else Qt.CheckState.Checked)
            font = item.font()
            font.setBold(is_tag)
            item.setFont(font)
            item.setToolTip(
                f"class {c.index}"
                + (f", key {key}" if key else "")
                + (" · a tag of this image" if is_tag else "")
            )
            self.list.addItem(item)
        self.list.blockSignals(False)
        # Keep the class being painted if this image has that tag; else its first tag.
        rows = {self.list.item(i).data(CLASS): i for i in range(self.list.count())}
        first_tag = min((rows[k] for k in tagged if k in rows), default=0)
        self.list.setCurrentRow(
            rows[keep] if keep in rows and (keep in tagged or not tagged) else first_tag
        )

    def current_class(self) -> int | None:
        """The class index picked for painting."""
        item = self.list.currentItem()
        return item.data(CLASS) if item is not None else None

    def pick_row(self, row: int) -> None:
        """Pick the class in a palette row (number key row + 1 is class row + 1)."""
        if 0 <= row < self.list.count():
            self.list.setCurrentRow(row)

    def add_from_field(self) -> None:
        """Add the class typed in the field."""
        name = self.new_name.text().strip()
        if not name:
            return
        try:
            self.project.add_class(name)
        except InputError as exc:
            self.failed.emit(exc.problem)
            return
        self.new_name.clear()
        self.classes_changed.emit()

    def _picked(self, row: int) -> None:
        item = self.list.item(row)
        if item is not None:
            self.class_picked.emit(item.data(CLASS))

    def _item_changed(self, item: QListWidgetItem) -> None:
        index = item.data(CLASS)
        shown = item.checkState() == Qt.CheckState.Checked
        if shown == (index in self.hidden):  # the check box, not the name, changed
            self.hidden.symmetric_difference_update({index})
            self.visibility_changed.emit(set(self.hidden))
            return
        self._renamed(item)

    def _renamed(self, item: QListWidgetItem) -> None:
        index, name = item.data(CLASS), item.text().strip()
        old = next(c.name for c in self.project.classes() if c.index == index)
        if name == old:
            return
        try:
            if not name:
                raise InputError(None, "a class needs a name")
            self.project.rename_class(index, name)
        except InputError as exc:
            self.failed.emit(exc.problem)
        self.classes_changed.emit()


class TagsPanel(QListWidget):
    """The current image's tags as check boxes; `tags_edited(labels)` when one is ticked."""

    tags_edited = Signal(list)

    def __init__(self) -> None:
        super().__init__()
        self.setIconSize(QSize(12, 12))
        self.itemChanged.connect(self._changed)

    def show_tags(self, classes: list[ClassInfo], labels: tuple[int, ...]) -> None:
        """One check box per class, ticked for the image's tags."""
        self.blockSignals(True)
        self.clear()
        for c in classes:
            item = QListWidgetItem(swatch(c.color, size=12, tagged=None), c.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = Qt.CheckState.Checked if c.index in labels else Qt.CheckState.Unchecked
            item.setCheckState(checked)
            item.setData(CLASS, c.index)
            self.addItem(item)
        self.blockSignals(False)

    def _changed(self, _item) -> None:
        labels = [
            self.item(i).data(CLASS)
            for i in range(self.count())
            if self.item(i).checkState() == Qt.CheckState.Checked
        ]
        self.tags_edited.emit(labels)
