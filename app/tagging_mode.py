"""The main window's tagging mode: the tagging view in place of the canvas (Ctrl+T), File → Save
tags, and tag suggestions from the project's model, run as one of the window's jobs.

In tagging mode the canvas's own keys (tools, review, previous / next) are off, Ctrl+Z undoes tag
changes, and Escape in a field goes back to the grid. A folder with no tag at all opens in it,
and so does any project when the app was left in it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QStackedWidget

from app import settings
from app.menus import action
from app.tag_files import save_tags
from app.tagging_view import HINT, TaggingView
from mcc_engine.project.store import ClassInfo

if TYPE_CHECKING:
    from app.main_window import MainWindow


class TaggingMode(QObject):
    """Switches the window between editing masks and tagging images."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.view = TaggingView(window.project, window.image_list.model)
        self.stack = QStackedWidget()
        canvas = window.takeCentralWidget()  # taken, not deleted, when the stack takes its place
        self.stack.addWidget(canvas)
        self.stack.addWidget(self.view)
        window.setCentralWidget(self.stack)
        canvas.setFocus()  # moved into the stack it would lose the window's first focus to a field
        self.action = action(
            window,
            "Tagging view: tag many images at once",
            keys=("Ctrl+T",),
            icon="mdi6.tag-multiple-outline",
            checkable=True,
        )
        self.action.toggled.connect(self.set_active)
        self.save_action = action(
            window, "Save tags…", self.save_tags, icon="mdi6.content-save-outline"
        )
        view = self.view
        view.tags_changed.connect(self._tags_changed)
        view.classes_changed.connect(window.refresh_classes)
        view.message.connect(window.statusBar().showMessage)
        view.suggest_requested.connect(self.suggest)
        view.open_image.connect(self._edit_masks_of)
        window.image_list.image_selected.connect(self._list_picked)
        window.jobs.suggestions_done.connect(lambda _n: view.refresh_suggestions())

    @property
    def active(self) -> bool:
        """Whether the tagging view is shown."""
        return self.stack.currentWidget() is self.view

    def set_active(self, on: bool) -> None:
        """Show the tagging view (on) or the canvas."""
        window = self.window
        if on == self.active:
            return
        self.action.setChecked(on)
        settings.set_value("tagging", on)  # remembered as it changes: a killed app keeps it too
        for item in self._canvas_actions():
            item.setEnabled(not on)
        window.field_keys.canvas = self.view.grid if on else window.canvas  # where Escape goes
        if on:
            self.stack.setCurrentWidget(self.view)
            current = window.current.id if window.current is not None else None
            if not self.view.grid.selected_ids() and current is not None:
                self.view.grid.select_ids([current])
            self.view.show_summary()
            self.view.grid.setFocus(Qt.FocusReason.OtherFocusReason)
            window.statusBar().showMessage(HINT)
        else:
            self.stack.setCurrentWidget(window.canvas)
            index = self.view.grid.currentIndex()
            if index.isValid():  # the image last picked in the grid is the one to edit
                window.image_list.set_current_row(index.row())
            window.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def open_if_untagged(self) -> None:
        """A project where no image has a tag yet opens in the tagging view, as does any project
        when the app was closed in it."""
        rows = self.window.image_list.model.rows
        untagged = rows and self.window.project.untagged_count() == len(rows)
        if untagged or settings.value("tagging", False):
            self.set_active(True)

    def set_classes(self, classes: list[ClassInfo]) -> None:
        """The class bar and chip colours follow the project's classes."""
        self.view.set_classes(classes)

    def undo(self) -> None:
        """Ctrl+Z in tagging mode: the last tag change."""
        self.view.undo()

    def redo(self) -> None:
        """Ctrl+Shift+Z in tagging mode."""
        self.view.redo()

    def save_tags(self) -> None:
        """File → Save tags."""
        said = save_tags(self.window, self.window.project)
        if said:
            self.window.statusBar().showMessage(said)

    def suggest(self) -> None:
        """Score the untagged images with the latest model, in the window's worker."""
        self.window.jobs.start_suggestions(self.window.project.images(tagged=False))

    def _canvas_actions(self):
        window = self.window
        named = (
            window.review_action,
            window.fit_action,
            window.previous_action,
            window.next_action,
            window.unreviewed_action,
            window.heat_action,
            window.outline_action,
        )
        return (*named, *window.tool_actions.values())

    def _tags_changed(self, changed: dict[int, tuple[int, ...]]) -> None:
        window = self.window
        window.image_list.show_counts()
        if window.current is not None and window.current.id in changed:
            window.current = replace(window.current, labels=changed[window.current.id])
            window.refresh_classes()  # the image's tags panel and its marks in the palette

    def _list_picked(self, image_id: int) -> None:
        if self.active:
            self.view.grid.select_ids([image_id])

    def _edit_masks_of(self, image_id: int) -> None:
        self.view.grid.select_ids([image_id])
        self.set_active(False)
