"""The main window driven like a user: paint, undo across images, fill, tags, keys, training."""

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest

from tests.app.conftest import nonzero, saved_mask

ROOT = Path(__file__).resolve().parents[2]


def _view_point(window, x, y):
    return window.canvas.mapFromScene(x, y)


def _key(window, key):
    # Through the window system, as a real key press goes, so that shortcuts fire.
    window.activateWindow()
    QTest.keyClick(window.windowHandle(), key)


def _drag(window, start, end):
    viewport = window.canvas.viewport()
    QTest.mousePress(
        viewport,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        _view_point(window, *start),
    )
    for t in (0.25, 0.5, 0.75, 1.0):
        x = start[0] + (end[0] - start[0]) * t
        y = start[1] + (end[1] - start[1]) * t
        QTest.mouseMove(viewport, _view_point(window, x, y))
    QTest.mouseRelease(
        viewport,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        _view_point(window, *end),
    )


def test_a_brush_stroke_is_saved_to_disk(make_window):
    window = make_window()
    window.set_tool("brush")
    window.class_panel.pick_row(0)
    cls = window.canvas.current_class
    _drag(window, (10, 20), (60, 20))
    mask = saved_mask(window)
    assert mask is not None and mask[20, 35] == cls
    assert window.project.image(window.current.id).state == "edited"


def test_undo_and_redo_survive_switching_images(make_window):
    window = make_window()
    first = window.current.id
    _drag(window, (10, 30), (50, 30))
    painted = nonzero(saved_mask(window))
    assert painted > 0
    _key(window, Qt.Key.Key_D)
    assert window.current.id != first
    _key(window, Qt.Key.Key_A)
    assert window.current.id == first
    window.undo()
    assert nonzero(saved_mask(window)) == 0
    window.redo()
    assert nonzero(saved_mask(window)) == painted


def test_fill_and_polygon(make_window):
    window = make_window()
    window.set_tool("polygon")
    for x, y in ((5, 5), (40, 5), (40, 40), (5, 40)):
        QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         _view_point(window, x, y))  # fmt: skip
    window.canvas.close_polygon()
    cls = window.canvas.current_class
    assert saved_mask(window)[20, 20] == cls
    window.class_panel.pick_row(cls % window.class_panel.list.count())  # another class: cls + 1
    window.set_tool("fill")
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     _view_point(window, 20, 20))  # fmt: skip
    mask = saved_mask(window)
    assert mask[20, 20] == window.canvas.current_class and mask[20, 20] != cls


def test_tags_edits_are_persisted(make_window):
    window = make_window()
    item = window.tag_list.item(3)
    wanted = item.checkState() != Qt.CheckState.Checked
    item.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)
    labels = window.project.image(window.current.id).labels
    assert (4 in labels) == wanted


def test_shortcuts_pick_tools_and_classes(make_window):
    window = make_window()
    _key(window, Qt.Key.Key_E)
    assert window.canvas.tool == "eraser"
    _key(window, Qt.Key.Key_B)
    assert window.canvas.tool == "brush"
    _key(window, Qt.Key.Key_2)
    assert window.class_panel.list.currentRow() == 1
    size = window.size_spin.value()
    _key(window, Qt.Key.Key_BracketRight)
    assert window.size_spin.value() == size + 2
    _key(window, Qt.Key.Key_X)
    assert window.canvas.tool == "replace"
    _key(window, Qt.Key.Key_O)
    assert window.canvas.overlay.outline
    _key(window, Qt.Key.Key_C)
    assert window.heat_combo.currentText() == "confidence"


def test_fine_tune_keeps_the_window_responsive_then_propose(make_window, qtbot):
    window = make_window()
    edited = window.current.id
    _drag(window, (10, 10), (40, 10))
    window.model_panel.preset.addItem("tiny")
    window.model_panel.preset.setCurrentText("tiny")
    window.model_panel.iters.setValue(6)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    window.start_training(resume=False)
    with qtbot.waitSignal(window.worker.finished, timeout=120000):
        pass
    timer.stop()
    # The worker's finished signal reaches the window through the event loop: wait for its slot.
    qtbot.waitUntil(lambda: "Trained at step 6" in window.model_panel.status.text(), timeout=10000)
    assert len(ticks) > 3  # the event loop kept running while training
    assert window.project.latest_checkpoint() is not None
    window.start_proposals()
    with qtbot.waitSignal(window.worker.finished, timeout=120000):
        pass
    qtbot.waitUntil(lambda: "Proposed masks" in window.model_panel.status.text(), timeout=10000)
    states = {i.id: i.state for i in window.project.images()}
    assert states[edited] == "edited"
    assert sum(s == "proposed" for s in states.values()) == len(states) - 1
    proposed = next(i for i, s in states.items() if s == "proposed")
    confidence = window.project.heat_map(proposed, "confidence")
    assert confidence is not None and confidence.shape == window.project.load_mask(proposed).shape
    assert window.project.heat_map(edited, "cam") is None  # edited images keep no proposal


def test_cancel_keeps_a_checkpoint(make_window, qtbot):
    window = make_window()
    window.model_panel.preset.addItem("tiny")
    window.model_panel.preset.setCurrentText("tiny")
    window.model_panel.iters.setValue(5000)
    window.start_training(resume=False)
    with qtbot.waitSignal(window.worker.progress, timeout=60000):
        pass
    with qtbot.waitSignal(window.worker.cancelled, timeout=60000):
        window.cancel_work()
    qtbot.waitUntil(lambda: "Stopped" in window.model_panel.status.text(), timeout=10000)
    assert window.project.latest_checkpoint().is_file()


def test_smoke_screenshot_exits_0(tmp_path):
    shot = tmp_path / "shot.png"
    env = {
        **__import__("os").environ,
        "MCC_ANNOTATE_HOME": str(tmp_path / "home"),
        "QT_QPA_PLATFORM": "offscreen",
    }
    done = subprocess.run([sys.executable, "-m", "app.main", "--demo", "--smoke", "--screenshot", str(shot)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.stat().st_size > 10000


def test_export_dialog_writes_a_dataset_and_reports_it(make_window, qtbot, monkeypatch, tmp_path):
    from app.dialogs import ExportDialog

    window = make_window()
    _drag(window, (10, 10), (40, 10))
    out = tmp_path / "exported"
    monkeypatch.setattr(ExportDialog, "exec", lambda self: True)
    monkeypatch.setattr(ExportDialog, "settings", lambda self: {"fmt": "coco", "val_fraction": 0.0,
                                                                 "coco_segmentation": "polygon", "out": out})  # fmt: skip
    shown = []
    monkeypatch.setattr("app.main_window.QMessageBox.information", lambda *a: shown.append(a[2]))
    window.export_dialog()
    with qtbot.waitSignal(window.worker.finished, timeout=60000):
        pass
    qtbot.waitUntil(lambda: bool(shown), timeout=10000)
    assert (out / "annotations" / "instances_train.json").is_file()
    assert shown[0].startswith("exported 1 images as COCO")
