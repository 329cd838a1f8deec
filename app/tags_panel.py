"""The class palette (keys 1-9, add and rename classes) and the tags of the current image."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
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


def swatch(color: tuple[int, int, int], key: str = "", size: int = 18) -> QIcon:
    """A colour square with the key that picks the class written on it."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*color))
    if key:
        painter = QPainter(pixmap)
        font = QFont()
        font.setPixelSize(size - 6)
        font.setBold(True)
        painter.setFont(font)
        light = sum(c * w for c, w in zip(color, (0.299, 0.587, 0.114))) > 140
        painter.setPen(QColor(0, 0, 0) if light else QColor(255, 255, 255))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, key)
        painter.end()
    return QIcon(pixmap)


class ClassPanel(QWidget):
    """Classes in palette order (the image's tags first); double-click renames, the field adds.

    Edits go to the project; `classes_changed` tells the window to redraw what shows classes.
    """

    class_picked = Signal(int)
    classes_changed = Signal()
    failed = Signal(str)

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project
        self.list = QListWidget()
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)  # fmt: skip
        self.new_name = QLineEdit(placeholderText="New class name")
        add = QToolButton(icon=qta.icon("mdi6.plus"), toolTip="Add the class")
        add.clicked.connect(self.add_from_field)
        self.new_name.returnPressed.connect(self.add_from_field)
        row = QHBoxLayout()
        row.addWidget(self.new_name)
        row.addWidget(add)
        hint = QLabel("Double-click a class to rename it.")
        hint.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.list)
        layout.addLayout(row)
        layout.addWidget(hint)
        self.list.currentRowChanged.connect(self._picked)
        self.list.itemChanged.connect(self._renamed)

    def show_classes(self, classes: list[ClassInfo], tagged: set[int]) -> None:
        """Fill the palette, the image's tags first; keys 1-9 follow this order."""
        ordered = sorted(classes, key=lambda c: (c.index not in tagged, c.index))
        keep = self.current_class()
        self.list.blockSignals(True)
        self.list.clear()
        for row, c in enumerate(ordered):
            item = QListWidgetItem(swatch(c.color, str(row + 1) if row < 9 else ""), c.name)
            item.setData(CLASS, c.index)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            item.setToolTip(f"class {c.index}" + (" · tagged" if c.index in tagged else ""))
            self.list.addItem(item)
        self.list.blockSignals(False)
        # Keep the class being painted if this image has that tag; else its first tag.
        rows = [i for i in range(self.list.count()) if self.list.item(i).data(CLASS) == keep]
        self.list.setCurrentRow(rows[0] if rows and (keep in tagged or not tagged) else 0)

    def current_class(self) -> int | None:
        """The class index picked for painting."""
        item = self.list.currentItem()
        return item.data(CLASS) if item is not None else None

    def pick_row(self, row: int) -> None:
        """Pick the class in a palette row (number keys)."""
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
        self.itemChanged.connect(self._changed)

    def show_tags(self, classes: list[ClassInfo], labels: tuple[int, ...]) -> None:
        """One check box per class, ticked for the image's tags."""
        self.blockSignals(True)
        self.clear()
        for c in classes:
            item = QListWidgetItem(swatch(c.color, size=12), c.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = Qt.CheckState.Checked if c.index in labels else Qt.CheckState.Unchecked
            item.setCheckState(checked)
            item.setData(CLASS, c.index)
            self.addItem(item)
        self.blockSignals(False)

    def _changed(self, _item) -> None:
        labels = [self.item(i).data(CLASS) for i in range(self.count())
                  if self.item(i).checkState() == Qt.CheckState.Checked]  # fmt: skip
        self.tags_edited.emit(labels)
