"""App test set-up: settings and user data in temporary folders, a window on a small demo."""

import numpy as np
import pytest

# With torch loaded, each window asks it for the device directly instead of starting a probe
# process (tests open many windows); test_device_probe covers the process.
import torch  # noqa: F401
from PySide6.QtCore import QCoreApplication, QSettings

from app.pyside_guard import guard
from mcc_engine.data.demo import write_demo
from mcc_engine.project.store import Project

guard()  # as the app does at start: hundreds of windows must not run None's count down


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """QSettings and the user data folder live in tmp_path, never in the real home."""
    monkeypatch.setenv("MCC_ANNOTATE_HOME", str(tmp_path / "home"))
    QCoreApplication.setOrganizationName("MCC Annotate Tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings")
    )
    yield


@pytest.fixture
def window_on(qtbot):
    """Open a main window on a data folder, shown and active; after the test its worker is
    stopped and it is closed."""
    from app.main_window import MainWindow

    windows = []

    def open_on(data):
        window = MainWindow(Project.open(data))
        qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        windows.append(window)
        return window

    yield open_on
    for window in windows:
        if window.worker is not None:
            window.worker.stop()
            window.worker.wait()
            assert not window.worker.thread.isRunning()
        window.close()


@pytest.fixture
def make_window(window_on, tmp_path):
    """Build a main window on a fresh 8-image demo project; closes it after the test."""

    def factory(count: int = 8):
        data = tmp_path / "demo"
        write_demo(data, count=count, seed=5)
        return window_on(data)

    return factory


def saved_mask(window):
    """The current image's mask as saved on disk (after the queued saves)."""
    window.saver.flush()
    return window.project.load_mask(window.current.id)


def nonzero(mask):
    """Count of pixels that are neither background nor unlabelled."""
    return int(((mask != 0) & (mask != 255)).sum()) if mask is not None else 0


__all__ = ["nonzero", "np", "saved_mask"]
