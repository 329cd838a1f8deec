"""Cancelling long work in the app: a quiet stop, never an "unexpected error" dialog."""

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest


def test_cancelling_an_export_stops_quietly_and_writes_nothing(
    make_window, qtbot, monkeypatch, tmp_path
):
    from app.dialogs import ExportDialog

    window = make_window(count=30)
    viewport = window.canvas.viewport()  # one brush stroke, so that the project has a mask
    points = [window.canvas.mapFromScene(x, 20) for x in (10, 20, 30, 40)]
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
    for point in points[1:]:
        QTest.mouseMove(viewport, point)
    QTest.mouseRelease(
        viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1]
    )
    out = tmp_path / "exported"
    monkeypatch.setattr(ExportDialog, "exec", lambda self: True)
    settings = {"fmt": "voc", "val_fraction": 0.0, "include_unlabelled": True, "out": out}
    monkeypatch.setattr(ExportDialog, "settings", lambda self: settings)
    dialogs = []
    for kind in ("warning", "critical", "information"):
        monkeypatch.setattr(
            f"app.main_window.QMessageBox.{kind}", lambda *a, **k: dialogs.append(a)
        )
    window.export_dialog()
    button = window.model_panel.cancel_button
    assert button.isEnabled()
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not button.isEnabled(), timeout=60000)  # the job has ended
    assert "stopped" in window.model_panel.status.text().lower()
    assert dialogs == []
    assert not out.exists()
