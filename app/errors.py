"""Errors: a log file in the user data folder, dialogs, and a last-resort exception hook."""

from __future__ import annotations

import logging
import sys
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

log = logging.getLogger("mcc_annotate")
_open_dialogs: list[QMessageBox] = []


def log_file() -> Path:
    """The app's log file: <user data folder>/logs/mcc-annotate.log."""
    from app.main import user_data_dir

    return user_data_dir() / "logs" / "mcc-annotate.log"


def setup_logging() -> Path:
    """Send the app's log records to the log file (rotated at 1 MB, 3 kept); returns its path."""
    path = log_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):  # one file per run, even when set up twice (tests)
        if getattr(handler, "mcc_annotate", False):
            root.removeHandler(handler)
            handler.close()
    handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.mcc_annotate = True
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def show_error(parent: QWidget | None, title: str, message: str, *, advice: str = "") -> None:
    """Log an error and show it in a dialog (the message names the file; advice says what to do)."""
    log.warning("%s: %s", title, message)
    text = f"{message}\n\n{advice}" if advice else message
    QMessageBox.warning(parent, title, text)


def _unexpected(kind, value, tb) -> None:
    """sys.excepthook: log the traceback, say so in a dialog, and let the event loop go on."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    details = "".join(traceback.format_exception(kind, value, tb))
    log.error("unexpected error\n%s", details)
    app = QApplication.instance()
    if app is None or any(box.isVisible() for box in _open_dialogs):
        return  # one dialog at a time: a bug that repeats on every mouse move must not flood
    _open_dialogs.clear()
    box = QMessageBox(
        QMessageBox.Icon.Critical,
        "MCC Annotate — unexpected error",
        f"Something went wrong: {kind.__name__}: {value}\n\nYour work so far is saved. "
        f"The details are in {log_file()}; please include them in a bug report.",
        parent=app.activeWindow(),
    )
    box.setDetailedText(details)
    box.setModal(False)
    box.show()  # not exec(): the window stays usable and nothing waits on the dialog
    _open_dialogs.append(box)


def install_excepthook() -> None:
    """Route exceptions that reach the event loop to the log and a dialog instead of a crash."""
    sys.excepthook = _unexpected
