"""Opening what is not a project or not a data folder: one clear dialog, nothing left behind."""

import os

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox


@pytest.fixture
def dialogs(monkeypatch):
    """The texts of the warning dialogs shown (the dialog itself would wait for a click)."""
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    return shown


def _start(qtbot):
    from app.launcher import Launcher

    launcher = Launcher()
    start = launcher.show_start()
    qtbot.addWidget(start)
    return launcher, start


def _click(button):
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def _projects_under(folder):
    return [p for p in folder.rglob("mcc_project")]


def _image(path, value=90):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((24, 32, 3), value, np.uint8)).save(path)


def test_open_project_on_a_text_file_is_one_dialog_and_creates_nothing(
    qtbot, tmp_path, monkeypatch, dialogs
):
    unrelated = tmp_path / "tmp"
    fake = unrelated / "fake_project.sqlite"
    fake.parent.mkdir()
    fake.write_text("this is not a database\n")
    _image(unrelated / "somebody" / "else" / "photo.jpg")  # a folder the user never picked
    (unrelated / "notes.txt").write_text("x")
    launcher, start = _start(qtbot)
    monkeypatch.setattr(
        "app.start_screen.QFileDialog.getOpenFileName", lambda *a, **k: (str(fake), "")
    )
    _click(start.buttons["project"])
    assert launcher.window is None
    assert len(dialogs) == 1
    assert str(fake) in dialogs[0] and "not an MCC Annotate project" in dialogs[0]
    assert _projects_under(tmp_path) == []


def test_open_project_on_a_sqlite_file_outside_a_project_folder_is_refused(
    qtbot, tmp_path, monkeypatch, dialogs
):
    import sqlite3

    stray = tmp_path / "other" / "project.sqlite"
    stray.parent.mkdir()
    sqlite3.connect(stray).execute("CREATE TABLE t (x)").connection.close()
    _image(tmp_path / "other" / "cat" / "a.jpg")
    launcher, start = _start(qtbot)
    monkeypatch.setattr(
        "app.start_screen.QFileDialog.getOpenFileName", lambda *a, **k: (str(stray), "")
    )
    _click(start.buttons["project"])
    assert launcher.window is None and len(dialogs) == 1 and "mcc_project" in dialogs[0]
    assert _projects_under(tmp_path) == []


def test_a_non_utf8_file_name_is_named_escaped_and_nothing_is_left_behind(
    qtbot, tmp_path, monkeypatch, dialogs
):
    data = tmp_path / "data"
    _image(data / "leaf" / "ok.jpg")
    (data / "fish").mkdir()
    raw = os.path.join(os.fsencode(data / "fish"), b"caf\xe9.jpg")
    with open(raw, "wb") as handle:
        Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(handle, format="JPEG")
    launcher, start = _start(qtbot)
    monkeypatch.setattr(
        "app.start_screen.QFileDialog.getExistingDirectory", lambda *a, **k: str(data)
    )
    _click(start.buttons["folder"])
    assert launcher.window is None
    assert len(dialogs) == 1
    assert "fish/caf\\xe9.jpg" in dialogs[0] and "rename" in dialogs[0]
    assert _projects_under(tmp_path) == []


def test_a_folder_without_images_is_refused_and_left_as_it_was(
    qtbot, tmp_path, monkeypatch, dialogs
):
    data = tmp_path / "data"
    data.mkdir()
    (data / "notes.txt").write_text("no pictures here")
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    launcher, start = _start(qtbot)
    monkeypatch.setattr(
        "app.start_screen.QFileDialog.getExistingDirectory", lambda *a, **k: str(data)
    )
    _click(start.buttons["folder"])
    assert launcher.window is None and len(dialogs) == 1 and "no images here" in dialogs[0]
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before


def test_a_folder_of_untagged_images_opens_in_the_tagging_view(
    qtbot, tmp_path, monkeypatch, dialogs
):
    data = tmp_path / "data"
    _image(data / "a.jpg")
    _image(data / "b.png", value=20)
    launcher, start = _start(qtbot)
    monkeypatch.setattr(
        "app.start_screen.QFileDialog.getExistingDirectory", lambda *a, **k: str(data)
    )
    _click(start.buttons["folder"])
    window = launcher.window
    qtbot.addWidget(window)
    assert dialogs == [] and window.tagging.active
    assert window.tagging.view.grid.model().rowCount() == 2
    assert window.project.classes() == []
    window.close()
