"""The export dialog's choice "only reviewed and edited images" leaves proposals out."""

import json

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from tests.app.test_main_window import _drag
from tests.app.test_remembered_and_progress import _answer


def test_export_of_only_reviewed_and_edited_images(make_window, qtbot, tmp_path, monkeypatch):
    from app.dialogs import ExportDialog

    shown = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: shown.append(a[2]))
    window = make_window()
    rows = window.image_list.model.rows
    _drag(window, (10, 20), (60, 20))  # image 0: edited
    window.image_list.set_current_row(1)
    _drag(window, (10, 20), (60, 20))
    window.mark_reviewed()  # image 1: reviewed
    h, w = window.project.image(rows[2].id).height, window.project.image(rows[2].id).width
    window.project.save_proposal(rows[2].id, np.ones((h, w), np.uint8))  # image 2: proposed
    out = tmp_path / "only checked"

    def choose(dialog):
        dialog.which.setFocus()
        QTest.keyClick(dialog.which, Qt.Key.Key_Down)  # "only reviewed and edited images"
        dialog.out.selectAll()
        QTest.keyClicks(dialog.out, str(out))
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        QTest.mouseClick(ok, Qt.MouseButton.LeftButton)

    _answer(ExportDialog, choose)
    window.export_dialog()
    qtbot.waitUntil(lambda: bool(shown), timeout=60000)
    doc = json.loads((out / "annotations" / "instances_train.json").read_text())
    names = sorted(image["file_name"] for image in doc["images"])
    assert names == ["images__scene_0000.jpg", "images__scene_0001.jpg"]
    assert "6 images not chosen were left out" in shown[0]
