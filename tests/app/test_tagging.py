"""Tagging an untagged folder in the app, with real mouse and key events: select thumbnails (click,
Shift, Ctrl, a dragged band), number keys toggle a class, Ctrl+Z, next untagged, new classes,
Save tags, the fine-tune minimum, and the model's suggestions taken with Enter."""

import csv
import io
import json

import pytest
import torch
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from mcc_engine.data.demo import write_demo
from mcc_engine.project.store import Project
from tests.engine.tiny import save_tiny_checkpoint, tiny_model

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
NONE = Qt.KeyboardModifier.NoModifier
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def untagged_window(qtbot, tmp_path, window_on):
    """A window on a 12-image demo whose tags.csv was deleted (its classes.txt stays), or on
    its images alone (`flat`)."""

    def factory(*, flat: bool = False):
        data = tmp_path / "demo"
        write_demo(data, count=12, seed=5)
        (data / "tags.csv").unlink()
        if flat:  # images only: no class list, no sub-folders (which would be tags)
            data = tmp_path / "photos"
            (tmp_path / "demo" / "images").rename(data)
        window = window_on(data)
        grid = window.tagging.view.grid
        last = grid.model().index(grid.model().rowCount() - 1)
        qtbot.waitUntil(lambda: not grid.visualRect(last).isEmpty())  # laid out in batches
        return window

    return factory


def _grid(window):
    return window.tagging.view.grid


def _cell(window, row) -> QPoint:
    grid = _grid(window)
    return grid.visualRect(grid.model().index(row)).center()


def _click(window, row, modifier=NONE):
    QTest.mouseClick(_grid(window).viewport(), LEFT, modifier, _cell(window, row))


def _key(window, key, modifier=NONE):
    """A key through the window system, as a real one goes: window shortcuts get their chance."""
    window.activateWindow()
    QTest.keyClick(window.windowHandle(), key, modifier)


def _tags(window):
    """The project's tags by row of the grid."""
    stored = {i.id: i.labels for i in window.project.images()}
    return [stored[r.id] for r in _grid(window).model().rows]


def _rows_selected(window):
    return sorted(i.row() for i in _grid(window).selectionModel().selectedIndexes())


def _answer(qtbot, button_text, seen):
    """Click `button_text` in the next message box when it shows; its text goes to `seen`."""

    def look():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, look)
            return
        seen.append(box.text())
        button = next(b for b in box.buttons() if b.text().replace("&", "") == button_text)
        QTest.mouseClick(button, LEFT)

    QTimer.singleShot(0, look)


def test_an_untagged_folder_opens_in_the_tagging_view_and_keys_tag_the_selection(
    untagged_window,
):
    window = untagged_window()
    assert window.tagging.active and _grid(window).hasFocus()
    assert not window.review_action.isEnabled()  # the canvas's keys are off while tagging
    assert window.image_list.counts.text() == "12 shown · 12 untagged"
    _click(window, 0)
    _click(window, 2, SHIFT)
    _click(window, 5, CTRL)
    assert _rows_selected(window) == [0, 1, 2, 5]
    _key(window, Qt.Key.Key_2)
    _key(window, Qt.Key.Key_3)
    chosen = {0, 1, 2, 5}
    assert _tags(window) == [(2, 3) if r in chosen else () for r in range(12)]
    assert window.image_list.counts.text() == "12 shown · 8 untagged"
    _key(window, Qt.Key.Key_3)  # all four have fish: the key takes it off all of them
    assert _tags(window) == [(2,) if r in chosen else () for r in range(12)]
    _key(window, Qt.Key.Key_Z, CTRL)
    assert _tags(window) == [(2, 3) if r in chosen else () for r in range(12)]
    _key(window, Qt.Key.Key_Z, CTRL)
    _key(window, Qt.Key.Key_Z, CTRL)  # one step per key press, over the whole selection
    assert _tags(window) == [()] * 12
    _key(window, Qt.Key.Key_Z, CTRL | SHIFT)
    assert _tags(window) == [(2,) if r in chosen else () for r in range(12)]


def test_a_dragged_band_selects_and_the_next_untagged_key_moves_on(untagged_window):
    window = untagged_window()
    viewport = _grid(window).viewport()
    QTest.mousePress(viewport, LEFT, NONE, _cell(window, 0))
    QTest.mouseMove(viewport, _cell(window, 1))
    QTest.mouseMove(viewport, _cell(window, 3))
    QTest.mouseRelease(viewport, LEFT, NONE, _cell(window, 3))
    assert _rows_selected(window) == [0, 1, 2, 3]
    _key(window, Qt.Key.Key_1)
    assert _tags(window)[:5] == [(1,), (1,), (1,), (1,), ()]
    _click(window, 1)
    _key(window, Qt.Key.Key_U)
    assert _rows_selected(window) == [4]
    _key(window, Qt.Key.Key_4)
    _key(window, Qt.Key.Key_U)
    assert _rows_selected(window) == [5]


def test_tag_undo_outlives_the_view_and_the_window(untagged_window, qtbot):
    from app.main_window import MainWindow

    window = untagged_window()
    _click(window, 6)
    _key(window, Qt.Key.Key_1)
    _key(window, Qt.Key.Key_T, CTRL)  # back to the canvas
    assert not window.tagging.active and window.current.rel_path.endswith("scene_0006.jpg")
    assert window.tag_list.item(0).checkState() == Qt.CheckState.Checked  # the tags panel
    _key(window, Qt.Key.Key_T, CTRL)
    _key(window, Qt.Key.Key_2)
    root = window.project.root
    window.close()
    again = MainWindow(Project.open(root))
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    again.activateWindow()
    qtbot.waitUntil(again.isActiveWindow)
    assert again.tagging.active  # the window was left in it
    image = next(i for i in again.project.images() if i.rel_path.endswith("scene_0006.jpg"))
    assert image.labels == (1, 2)
    _key(again, Qt.Key.Key_Z, CTRL)
    assert again.project.image(image.id).labels == (1,)
    again.close()


def test_a_class_named_in_the_view_is_tagged_with_its_number_key(untagged_window, qtbot):
    window = untagged_window(flat=True)
    assert window.project.classes() == []
    field = window.tagging.view.new_class
    QTest.mouseClick(field, LEFT)
    QTest.keyClick(field, Qt.Key.Key_Escape)  # leaves the field for the grid, not the canvas
    assert _grid(window).hasFocus()
    QTest.mouseClick(field, LEFT)
    QTest.keyClicks(field, "cat 2")
    QTest.keyClick(field, Qt.Key.Key_Return)
    assert [c.name for c in window.project.classes()] == ["cat 2"]
    assert _grid(window).hasFocus()  # the next key tags
    _click(window, 3)
    _key(window, Qt.Key.Key_1)
    assert _tags(window)[3] == (1,)
    assert window.class_panel.list.count() == 1  # the window's palette has it too


def test_the_untagged_filter_lists_what_is_left(untagged_window):
    window = untagged_window()
    _click(window, 0)
    _click(window, 1, SHIFT)
    _key(window, Qt.Key.Key_1)
    panel = window.image_list
    panel.tag_filter.setCurrentIndex(panel.tag_filter.findText("untagged"))
    assert panel.count() == 10 and all(not r.labels for r in panel.model.rows)
    assert panel.counts.text() == "10 shown · 10 untagged"


def test_save_tags_writes_the_csv_and_asks_before_replacing_files(
    untagged_window, qtbot, monkeypatch, tmp_path
):
    window = untagged_window()
    _click(window, 0)
    _click(window, 1, SHIFT)
    _key(window, Qt.Key.Key_2)
    _key(window, Qt.Key.Key_4)
    _click(window, 3)
    _key(window, Qt.Key.Key_1)
    root = window.project.root
    chosen = [str(root / "tags.csv")]
    monkeypatch.setattr(
        "app.tag_files.QFileDialog.getSaveFileName", lambda *a, **k: (chosen[0], "")
    )
    classes_before = (root / "classes.txt").read_bytes()
    seen = []
    _answer(qtbot, "Keep them", seen)  # the data folder's own classes.txt is there
    window.tagging.save_action.trigger()
    assert "classes.txt already exists" in seen[0]
    assert not (root / "tags.csv").exists()
    _answer(qtbot, "Replace", seen)
    window.tagging.save_action.trigger()
    expected = [
        ["image", "tags"],
        ["images/scene_0000.jpg", "leaf;boat"],
        ["images/scene_0001.jpg", "leaf;boat"],
        ["images/scene_0003.jpg", "sun"],
    ]
    written = (root / "tags.csv").read_bytes()
    assert list(csv.reader(io.StringIO(written.decode("utf-8")))) == expected
    assert (root / "classes.txt").read_bytes() == classes_before
    assert "9 untagged images are not in it" in window.statusBar().currentMessage()
    _answer(qtbot, "Keep them", seen)  # now both are there: both are named
    window.tagging.save_action.trigger()
    assert "tags.csv and classes.txt already exist" in seen[2]
    chosen[0] = str(tmp_path / "elsewhere" / "mine")  # a new place: no question, .csv added
    (tmp_path / "elsewhere").mkdir()
    window.tagging.save_action.trigger()
    assert len(seen) == 3
    assert (tmp_path / "elsewhere" / "mine.csv").read_bytes() == written
    assert (tmp_path / "elsewhere" / "classes.txt").read_text() == "sun\nleaf\nfish\nboat\n"


def test_fine_tune_is_refused_below_the_minimum_then_trains_on_the_tagged_images(
    untagged_window, qtbot
):
    window = untagged_window()
    panel = window.model_panel
    panel.preset.addItem("tiny")
    panel.preset.setCurrentText("tiny")
    panel.iters.setValue(2)
    statuses = []
    panel.status_changed.connect(statuses.append)

    def tag(first, last, key):
        _click(window, first)
        _click(window, last, SHIFT)
        _key(window, key)

    def refused():
        seen = []
        _answer(qtbot, "OK", seen)
        QTest.mouseClick(panel.train_button, LEFT)
        assert window.worker is None
        return seen[0]

    tag(0, 2, Qt.Key.Key_1)
    assert "at least 8 tagged images" in refused()
    tag(3, 7, Qt.Key.Key_2)
    tag(8, 8, Qt.Key.Key_3)
    assert "9 images tagged, 3 untagged; 'fish' is on 1." in refused()
    tag(9, 9, Qt.Key.Key_3)
    QTest.mouseClick(panel.train_button, LEFT)
    with qtbot.waitSignal(window.worker.finished, timeout=120000):
        pass
    qtbot.waitUntil(lambda: "Trained at step 2" in panel.status.text(), timeout=10000)
    assert any("10 tagged images (2 untagged left out)" in s for s in statuses)
    run = window.project.latest_checkpoint().parent
    assert json.loads((run / "config.json").read_text())["images"] == 10


def _sure_model(path, classes):
    """A tiny model whose every token is the same vector, so its scores are known: class 1 near
    1, the others near 0, on any image."""
    model = tiny_model(num_classes=len(classes))
    with torch.no_grad():
        model.encoder.norm.weight.zero_()
        model.encoder.norm.bias.fill_(1.0)
        model.classifier.weight.fill_(-0.1)
        model.classifier.weight[0].fill_(0.1)
    save_tiny_checkpoint(path, model, classes)


def test_suggested_tags_show_on_untagged_images_and_enter_takes_them(untagged_window, qtbot):
    window = untagged_window()
    project = window.project
    run = project.runs_dir / "run-hand-made"
    run.mkdir(parents=True)
    _sure_model(run / "last.pt", ["sun", "leaf", "fish", "boat"])
    project.add_run(run, run / "last.pt", kind="fine-tune", settings={})
    _click(window, 0)
    _key(window, Qt.Key.Key_3)  # image 0: fish, by a person
    view = window.tagging.view
    button = view.actions_bar.widgetForAction(view.buttons["suggest"])
    with qtbot.waitSignal(window.jobs.suggestions_done, timeout=60000):
        QTest.mouseClick(button, LEFT)
    assert _tags(window) == [(3,)] + [()] * 11  # suggestions are never tags by themselves
    suggested = {i: s.labels for i, s in _grid(window).suggestions.items()}
    rows = _grid(window).model().rows
    assert [suggested.get(r.id) for r in rows] == [None] + [(1,)] * 11  # the untagged only
    _click(window, 0)
    _click(window, 4, SHIFT)
    _key(window, Qt.Key.Key_Return)
    assert _tags(window) == [(3,)] + [(1,)] * 4 + [()] * 7  # the tagged one keeps its tags
    _key(window, Qt.Key.Key_Z, CTRL)
    assert _tags(window) == [(3,)] + [()] * 11
