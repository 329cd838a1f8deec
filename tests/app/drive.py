"""Drive a main window as a user does: real mouse drags and clicks on the canvas, real keys."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

NO_MODIFIER = Qt.KeyboardModifier.NoModifier


def view_point(window, x: float, y: float):
    """The viewport point that shows image pixel (x, y)."""
    return window.canvas.mapFromScene(x, y)


def key(window, key_code, modifier=NO_MODIFIER) -> None:
    """A key press through the window system, as a real one goes, so that shortcuts fire."""
    window.activateWindow()
    QTest.keyClick(window.windowHandle(), key_code, modifier)


def undo(window) -> None:
    """Ctrl+Z."""
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)


def redo(window) -> None:
    """Ctrl+Shift+Z."""
    key(
        window,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )


def drag(window, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A left-button stroke on the canvas from image pixel `start` to `end`."""
    viewport = window.canvas.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, NO_MODIFIER, view_point(window, *start))
    for t in (0.25, 0.5, 0.75, 1.0):
        x = start[0] + (end[0] - start[0]) * t
        y = start[1] + (end[1] - start[1]) * t
        QTest.mouseMove(viewport, view_point(window, x, y))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, NO_MODIFIER, view_point(window, *end))


def click(window, x: float, y: float) -> None:
    """A left click on image pixel (x, y)."""
    QTest.mouseClick(
        window.canvas.viewport(), Qt.MouseButton.LeftButton, NO_MODIFIER, view_point(window, x, y)
    )
