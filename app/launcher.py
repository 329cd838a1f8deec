"""Which window shows: the start screen, or one project's main window (switching on request)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QObject

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
        from app.main import ensure_demo

        parent = self.window or self.start
        try:
            root = ensure_demo() if target == "demo" else Path(target)
            resolved = (root.parent.parent if root.suffix == ".sqlite" else root).resolve()
            if self.window is not None and self.window.project.root.resolve() == resolved:
                self.window.raise_()
                return self.window
            project = Project.open(root)
        except InputError as exc:
            if self.quiet:
                print(f"mcc-annotate: {exc}", file=sys.stderr)
            else:
                show_error(
                    parent, "Open", str(exc), advice="Choose another folder, or try the demo."
                )
            return None
        log.info("opened %s", project.root)
        window = MainWindow(project)
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
