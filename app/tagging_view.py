"""The tagging view: a grid of the image list's thumbnails, a bar of classes, and the keys that tag
the selection (1-9 toggle class k, U next untagged, Enter takes the suggestions, Ctrl+Z undo).

Every change goes to the project at once as one step of its tag history (`Project.change_tags`),
so undo works after the view was closed or the app restarted; the view keeps no tags of its own.
"""

from __future__ import annotations

from dataclasses import replace

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QToolBar, QVBoxLayout, QWidget

from app.image_list import ImageListModel
from app.tag_grid import TagGrid
from app.tags_panel import swatch
from mcc_engine.errors import InputError
from mcc_engine.project.store import ClassInfo, Project

HINT = (
    "Select: click, Shift+click, Ctrl+click or drag a band · 1-9: toggle that class on the "
    "selection · U: next untagged · Enter: take the suggested tags · Ctrl+Z: undo"
)


class TaggingView(QWidget):
    """Tags many images at once; `tags_changed({id: labels})` after every change it makes."""

    tags_changed = Signal(object)  # {image id: its tags now}
    classes_changed = Signal()
    message = Signal(str)  # for the status bar
    suggest_requested = Signal()
    open_image = Signal(int)  # a double-clicked thumbnail: edit its mask

    def __init__(self, project: Project, model: ImageListModel) -> None:
        super().__init__()
        self.project, self.model = project, model
        self.grid = TagGrid()
        self.grid.setModel(model)
        self.summary = QLabel()
        self.actions_bar = QToolBar("Tagging")
        self.actions_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.buttons: dict[str, QAction] = {}
        for name, icon, text, slot in (
            ("next", "mdi6.debug-step-over", "Next untagged (U)", self.next_untagged),
            ("suggest", "mdi6.robot-outline", "Suggest tags", self.suggest_requested),
            ("accept", "mdi6.check-all", "Take suggestions (Enter)", self.accept_suggestions),
        ):  # undo and redo: the window's (Ctrl+Z, Ctrl+Shift+Z), on tags in this view
            self.buttons[name] = made = self.actions_bar.addAction(qta.icon(icon), text)
            made.triggered.connect(slot)
        self.buttons["suggest"].setToolTip(
            "Score the untagged images with the project's model; its tags show as dashed chips"
        )
        self.class_bar = QToolBar("Classes")  # too many classes for the width: a » menu
        self.class_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.no_classes = QLabel("No classes yet: name the first one here →")
        self.new_class = QLineEdit(placeholderText="New class name, Enter")
        self.new_class.setFixedWidth(190)
        self.new_class.returnPressed.connect(self.add_class)
        hint = QLabel(HINT)
        hint.setWordWrap(True)
        hint.setEnabled(False)  # drawn muted: a note
        top = QHBoxLayout()
        top.addWidget(self.summary)
        top.addWidget(self.actions_bar, 1)
        classes = QHBoxLayout()
        classes.addWidget(self.class_bar, 1)
        classes.addWidget(self.no_classes)
        classes.addWidget(self.new_class)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(classes)
        layout.addWidget(self.grid)
        layout.addWidget(hint)
        grid = self.grid
        grid.class_key.connect(self.toggle)
        grid.next_untagged.connect(self.next_untagged)
        grid.accept.connect(self.accept_suggestions)
        grid.undo.connect(self.undo)
        grid.redo.connect(self.redo)
        grid.doubleClicked.connect(lambda index: self.open_image.emit(self._row(index.row()).id))
        grid.selectionModel().selectionChanged.connect(self.show_summary)
        model.modelReset.connect(self.show_summary)
        self.set_classes(project.classes())
        self.refresh_suggestions()

    # -- what the view shows ------------------------------------------------------------------
    def set_classes(self, classes: list[ClassInfo]) -> None:
        """One button per class (key k: class k), then the new-class field."""
        self.grid.classes = {c.index: c for c in classes}
        for old in self.class_bar.actions():
            self.class_bar.removeAction(old)
            old.deleteLater()
        for c in classes:
            key = str(c.index) if c.index <= 9 else ""
            button = self.class_bar.addAction(swatch(c.color, key), c.name)
            button.triggered.connect(lambda _=False, k=c.index: self.toggle(k))
            button.setToolTip(f"Toggle {c.name} on the selection" + (f" ({key})" if key else ""))
        self.no_classes.setVisible(not classes)
        self.grid.viewport().update()

    def refresh_suggestions(self) -> None:
        """Read the model's suggestions from the project and draw them."""
        self.grid.suggestions = self.project.suggestions()
        self.grid.viewport().update()

    def show_summary(self) -> None:
        """Images shown, untagged in the project, selected."""
        selected = len(self.grid.selectionModel().selectedIndexes())
        untagged = self.project.untagged_count()
        self.summary.setText(
            f"<b>{self.model.rowCount()}</b> shown · <b>{untagged}</b> untagged · "
            f"<b>{selected}</b> selected"
        )

    # -- tagging ----------------------------------------------------------------------------
    def toggle(self, k: int) -> None:
        """Class k on every selected image, or off all of them when all have it (one step)."""
        ids = self.grid.selected_ids()
        info = self.grid.classes.get(k)
        if info is None:
            self.message.emit(f"There is no class {k}: name one in the field above the grid.")
            return
        if not ids:
            self.message.emit("Select images first: click, Shift/Ctrl+click, or drag a band.")
            return
        rows = {i: self._row(self.model.row_of(i)) for i in ids}
        remove = all(k in rows[i].labels for i in ids)
        new = {i: set(rows[i].labels) - {k} if remove else set(rows[i].labels) | {k} for i in ids}
        changed = self._apply(self.project.change_tags(new))
        word = f"Took {info.name} off" if remove else f"Tagged {info.name} on"
        self.message.emit(f"{word} {_images(len(changed))} (Ctrl+Z undoes it).")

    def accept_suggestions(self) -> None:
        """The selected untagged images take their suggested tags (one step)."""
        new = {}
        for i in self.grid.selected_ids():
            suggestion = self.grid.suggestions.get(i)
            if not self._row(self.model.row_of(i)).labels and suggestion and suggestion.labels:
                new[i] = suggestion.labels
        if not new:
            self.message.emit(
                "No suggested tags in the selection: Suggest tags scores the untagged images."
            )
            return
        changed = self._apply(self.project.change_tags(new))
        self.message.emit(f"Took the suggested tags of {_images(len(changed))} (Ctrl+Z undoes it).")

    def next_untagged(self) -> None:
        """Select the next untagged image in the grid after the current one (wrapping)."""
        rows = self.model.rows
        here = self.grid.currentIndex().row() if self.grid.currentIndex().isValid() else -1
        for step in range(1, len(rows) + 1):
            row = (here + step) % len(rows)
            if not rows[row].labels:
                self.grid.select_ids([rows[row].id])
                return
        self.message.emit("Every image shown is tagged.")

    def undo(self) -> None:
        """Take back the last tag change (from this view, the tags panel, or before a restart)."""
        changed = self._apply(self.project.undo_tags())
        self.message.emit(
            f"Undid a tag change on {_images(len(changed))}."
            if changed
            else "No tag change to undo."
        )
        self.grid.select_ids(list(changed))

    def redo(self) -> None:
        """Make the last undone tag change again."""
        changed = self._apply(self.project.redo_tags())
        self.message.emit(
            f"Redid a tag change on {_images(len(changed))}."
            if changed
            else "No tag change to redo."
        )
        self.grid.select_ids(list(changed))

    def add_class(self) -> None:
        """Add the class named in the field; its number key tags with it at once."""
        name = self.new_class.text().strip()
        if not name:
            return
        try:
            added = self.project.add_class(name)
        except InputError as exc:
            self.message.emit(f"Not added: {exc.problem}.")
            return
        self.new_class.clear()
        self.classes_changed.emit()
        key = f" (key {added.index})" if added.index <= 9 else ""
        self.message.emit(f"Added the class {added.name}{key}.")
        self.grid.setFocus(Qt.FocusReason.OtherFocusReason)

    def _apply(self, changed: dict[int, tuple[int, ...]]) -> dict[int, tuple[int, ...]]:
        """Show changed tags in the rows (they stay in the list until it is read again)."""
        rows = {i: self.model.row_of(i) for i in changed}
        self.model.update_images(
            [
                replace(self.model.rows[r], labels=changed[i])
                for i, r in rows.items()
                if r is not None
            ]
        )
        self.show_summary()
        if changed:
            self.tags_changed.emit(changed)
        return changed

    def _row(self, row: int | None):
        return self.model.rows[row]


def _images(n: int) -> str:
    return f"{n} image{'' if n == 1 else 's'}"
