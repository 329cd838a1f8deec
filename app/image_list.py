"""The image list: a lazy model over the project's rows, thumbnails, filters and sort."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QAbstractListModel, QModelIndex, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QVBoxLayout,
    QWidget,
)

from app.thumbnails import Thumbnails
from mcc_engine.project.store import ClassInfo, ImageInfo, Project

STATE_ICONS = {
    "new": ("mdi6.circle-outline", "#9e9e9e"),
    "proposed": ("mdi6.robot-outline", "#f0a030"),
    "edited": ("mdi6.pencil", "#4285f4"),
    "reviewed": ("mdi6.check-circle", "#34a853"),
}
IMAGE_ID = Qt.ItemDataRole.UserRole
INFO = Qt.ItemDataRole.UserRole + 1
UNTAGGED = -1  # the tag filter's choice "untagged" (class indices are 1..K)
THUMB = 48


def draw_thumbnail(painter: QPainter, index: QModelIndex, box: QRect) -> None:
    """The row's thumbnail (its decoration), scaled to fit `box` and centred in it."""
    pixmap = index.data(Qt.ItemDataRole.DecorationRole)
    if pixmap is not None:
        size = pixmap.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(box.center())
        painter.drawPixmap(target, pixmap)


ROW = THUMB + 8


class ImageListModel(QAbstractListModel):
    """Rows of ImageInfo; thumbnails are asked for only when a row is drawn."""

    def __init__(self, thumbnails: Thumbnails) -> None:
        super().__init__()
        self.rows: list[ImageInfo] = []
        self._row_of_id: dict[int, int] = {}
        self._row_of_path: dict[str, int] = {}
        self.thumbnails = thumbnails
        thumbnails.ready.connect(self._thumbnail_ready)

    def set_images(self, images: list[ImageInfo]) -> None:
        """Replace all rows."""
        self.beginResetModel()
        self.rows = images
        self._row_of_id = {image.id: row for row, image in enumerate(images)}
        self._row_of_path = {image.rel_path: row for row, image in enumerate(images)}
        self.endResetModel()

    def update_image(self, image: ImageInfo) -> None:
        """Show an image's new state or score in its row."""
        row = self._row_of_id.get(image.id)
        if row is not None:
            self.rows[row] = image
            self.dataChanged.emit(self.index(row), self.index(row))

    def update_images(self, images: list[ImageInfo]) -> None:
        """`update_image` for many rows, redrawn at once (tagging thousands in one key press)."""
        rows = []
        for image in images:
            row = self._row_of_id.get(image.id)
            if row is not None:
                self.rows[row] = image
                rows.append(row)
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)))

    def row_of(self, image_id: int) -> int | None:
        """The row showing an image, if the filter keeps it."""
        return self._row_of_id.get(image_id)

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's default argument)
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        image = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return image.rel_path
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnails.get(image.rel_path)
        if role == Qt.ItemDataRole.ToolTipRole:
            score = "" if image.score is None else f", uncertainty {image.score:.2f}"
            tags = "" if image.labels else ", untagged"
            return f"{image.rel_path}\n{image.state}{tags}{score}"
        if role == IMAGE_ID:
            return image.id
        if role == INFO:
            return image
        return None

    def _thumbnail_ready(self, rel_path: str) -> None:
        row = self._row_of_path.get(rel_path)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class ImageDelegate(QStyledItemDelegate):
    """A row: thumbnail, file name, state icon and word, uncertainty score."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        # Drawn once: painting a font icon on every row costs milliseconds each.
        ratio = parent.devicePixelRatioF() if parent is not None else 1.0
        self.icons = {}
        for state, (name, color) in STATE_ICONS.items():
            pixmap = qta.icon(name, color=color).pixmap(QSize(16, 16), ratio)
            self.icons[state] = pixmap

    def sizeHint(self, option, index) -> QSize:
        return QSize(200, ROW)

    def paint(self, painter: QPainter, option, index: QModelIndex) -> None:
        image: ImageInfo = index.data(INFO)
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        if selected:
            painter.fillRect(option.rect, pal.highlight())
        r = option.rect
        box = QRect(r.x() + 4, r.y() + 4, THUMB, THUMB)
        painter.fillRect(box, pal.color(QPalette.ColorRole.AlternateBase))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        draw_thumbnail(painter, index, box)
        text_color = pal.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        left = box.right() + 8
        name = QRect(left, r.y() + 6, r.right() - left - 4, r.height() // 2 - 6)
        painter.setPen(text_color)
        metrics = option.fontMetrics
        painter.drawText(
            name,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(image.rel_path, Qt.TextElideMode.ElideMiddle, name.width()),
        )
        line = QRect(left, r.y() + r.height() // 2, r.right() - left - 4, r.height() // 2 - 6)
        painter.drawPixmap(QRect(line.x(), line.y() + 1, 16, 16), self.icons[image.state])
        detail = image.state if image.labels else f"{image.state} · untagged"
        detail += "" if image.score is None else f" · {image.score:.2f}"
        muted = QColor(text_color)
        muted.setAlpha(170)
        painter.setPen(muted)
        painter.drawText(
            line.adjusted(20, 0, 0, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            detail,
        )
        painter.restore()


class ImageListPanel(QWidget):
    """Search, state and tag filters, sort order, and the list; `image_selected(id)` on a pick."""

    image_selected = Signal(int)

    def __init__(self, project: Project, thumbnails: Thumbnails) -> None:
        super().__init__()
        self.project = project
        self.search = QLineEdit(placeholderText="Search names", clearButtonEnabled=True)
        self.search.addAction(qta.icon("mdi6.magnify"), QLineEdit.ActionPosition.LeadingPosition)
        self.state_filter = QComboBox()
        self.state_filter.addItems(["all states", "new", "proposed", "edited", "reviewed"])
        self.tag_filter = QComboBox()
        self.sort = QComboBox()
        self.sort.addItems(["by name", "most uncertain first"])
        self.counts = QLabel()
        self.counts.setEnabled(False)  # drawn muted: a note, not a control
        self.model = ImageListModel(thumbnails)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setUniformItemSizes(True)  # 10,000 rows lay out without measuring each
        # and in batches between events, so the window is usable before the last row is placed.
        self.view.setLayoutMode(QListView.LayoutMode.Batched)
        self.view.setBatchSize(500)
        self.view.setItemDelegate(ImageDelegate(self.view))
        self.view.setSelectionMode(QListView.SelectionMode.SingleSelection)
        grid = QGridLayout()
        grid.addWidget(self.state_filter, 0, 0)
        grid.addWidget(self.tag_filter, 0, 1)
        grid.addWidget(self.sort, 1, 0, 1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.search)
        layout.addLayout(grid)
        layout.addWidget(self.counts)
        layout.addWidget(self.view)
        self.set_classes(project.classes())
        # Typing waits for a pause before filtering: a query over 10,000 rows takes a moment.
        self._typing = QTimer(self, singleShot=True, interval=150, timeout=self.refresh)
        self.search.textChanged.connect(self._typing.start)
        self.search.returnPressed.connect(self._search_now)
        for combo in (self.state_filter, self.tag_filter, self.sort):
            combo.currentIndexChanged.connect(self.refresh)
        self.view.selectionModel().currentChanged.connect(self._current_changed)

    def set_classes(self, classes: list[ClassInfo]) -> None:
        """The tag filter's choices (keeps the chosen tag)."""
        keep = self.tag_filter.currentData()
        self.tag_filter.blockSignals(True)
        self.tag_filter.clear()
        self.tag_filter.addItem("all tags", None)
        self.tag_filter.addItem("untagged", UNTAGGED)
        for c in classes:
            self.tag_filter.addItem(c.name, c.index)
        found = self.tag_filter.findData(keep)
        self.tag_filter.setCurrentIndex(max(0, found))
        self.tag_filter.blockSignals(False)

    def refresh(self) -> None:
        """Re-read the rows with the current filters and order, keeping the current image."""
        state = self.state_filter.currentText()
        tag = self.tag_filter.currentData()
        images = self.project.images(
            state=None if state == "all states" else state,
            tag=tag if tag != UNTAGGED else None,
            tagged=False if tag == UNTAGGED else None,
            search=self.search.text() or None,
            order="uncertainty" if self.sort.currentIndex() else "name",
        )
        keep = self.current_id()
        self.view.selectionModel().blockSignals(True)
        self.model.set_images(images)
        row = self.model.row_of(keep) if keep is not None else None
        if row is not None:
            self.view.setCurrentIndex(self.model.index(row))
        self.view.selectionModel().blockSignals(False)
        self.show_counts()

    def show_counts(self) -> None:
        """The line above the list: images shown, and how many of the project's are untagged."""
        untagged = self.project.untagged_count()
        self.counts.setText(f"{self.count()} shown · {untagged} untagged")

    def _search_now(self) -> None:
        """Enter in the search field: filter at once; show the first match if the image is gone."""
        self._typing.stop()
        self.refresh()
        if self.current_row() < 0:
            self.set_current_row(0)

    def count(self) -> int:
        """Rows shown."""
        return self.model.rowCount()

    def current_row(self) -> int:
        """The selected row, or -1."""
        index = self.view.currentIndex()
        return index.row() if index.isValid() else -1

    def set_current_row(self, row: int) -> None:
        """Select a row (and so open its image)."""
        if 0 <= row < self.count():
            self.view.setCurrentIndex(self.model.index(row))

    def select_quietly(self, image_id: int | None) -> None:
        """Select an image's row without announcing it (the window shows that image already)."""
        row = self.model.row_of(image_id) if image_id is not None else None
        self.view.selectionModel().blockSignals(True)
        if row is None:
            self.view.clearSelection()
            self.view.setCurrentIndex(self.model.index(-1))
        else:
            self.view.setCurrentIndex(self.model.index(row))
        self.view.selectionModel().blockSignals(False)

    def current_id(self) -> int | None:
        """The selected image's id."""
        index = self.view.currentIndex()
        return index.data(IMAGE_ID) if index.isValid() else None

    def thumbnails_shown(self) -> bool:
        """Whether every row in view has its thumbnail (asks for the missing ones)."""
        view = self.view.viewport().rect()
        first, last = self.view.indexAt(view.topLeft()), self.view.indexAt(view.bottomLeft())
        stop = last.row() if last.isValid() else self.count() - 1
        rows = range(first.row(), stop + 1) if first.isValid() else range(0)
        return all([self.model.thumbnails.settled(self.model.rows[r].rel_path) for r in rows])

    def _current_changed(self, current: QModelIndex, _previous) -> None:
        if current.isValid():
            self.image_selected.emit(current.data(IMAGE_ID))
