"""Which window shows: the start screen, or one project's main window (switching on request)."""

from __future__ import annotations

import sys
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QApplication

from app import settings
from app.errors import log, show_error
from app.main_window import MainWindow
from app.start_screen import StartScreen
from mcc_engine.errors import InputError
from mcc_engine.project.store import Project


class Launcher(QObject):
    """Opens projects into main windows; one project window at a time."""

    def __init__(self, *, quiet: bool = False) -> None:
        super().__init__()
        self.quiet = quiet  # smoke runs print errors instead of waiting on a dialog
        self.window: MainWindow | None = None
        self.start: StartScreen | None = None

    def show_start(self) -> StartScreen:
        """The start screen: open a data folder, a project, or the demo; recent projects."""
        self.start = StartScreen(settings.recent_projects())
        self.start.chosen.connect(self.open)
        self.start.show()
        return self.start

    def open(self, target: str) -> MainWindow | None:
        """Open a data folder, a project file or "demo"; a bad choice gets a dialog and None."""
        if self.window is not None and self.window.project.root.resolve() == _root(target):
            self.window.raise_()
            return self.window
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)  # the first demo takes seconds
        try:
            project = self._project(target)
            window = MainWindow(project) if project is not None else None
        finally:
            QApplication.restoreOverrideCursor()
        if window is None:
            return None
        log.info("opened %s", project.root)
        window.open_requested.connect(self.open)
        window.resize(1366, 768)
        old, self.window = self.window, window
        window.show()
        if old is not None:
            old.close()
        if self.start is not None:
            self.start.close()
            self.start = None
        settings.add_recent_project(project.root)
        return window

    def dispose(self) -> None:
        """Close and delete the windows while the QApplication still exists (at exit)."""
        for widget in (self.start, self.window):
            if widget is not None and shiboken6.isValid(widget):
                widget.close()
                shiboken6.delete(widget)
        self.start = self.window = None

    def _project(self, target: str) -> Project | None:
        from app.main import ensure_demo

        try:
            return Project.open(ensure_demo() if target == "demo" else Path(target))
        except InputError as exc:
            if self.quiet:
                print(f"mcc-annotate: {exc}", file=sys.stderr)
            else:
                QApplication.restoreOverrideCursor()
                QApplication.setOverrideCursor(Qt.CursorShape.ArrowCursor)
                show_error(
                    self.window or self.start,
                    "Open",
                    str(exc),
                    advice="Choose another folder, or try the demo.",
                )
            return None


def _root(target: str) -> Path:
    """The project folder a target names."""
    if target == "demo":
        from app.main import user_data_dir

        return (user_data_dir() / "demo").resolve()
    path = Path(target)
    return (path.parent.parent if path.suffix == ".sqlite" else path).resolve()
