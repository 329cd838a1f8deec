"""Click to segment, box to segment and the colour wand, driven with real mouse, wheel and keys."""

import threading

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from mcc_engine.data.images import read_image
from mcc_engine.data.masks import mask_rel_path, read_mask
from tests.app.conftest import saved_mask
from tests.app.drive import NO_MODIFIER, click, drag, key, undo, view_point
from tests.engine.scenes import centre_of, ellipse_scene


def _first_pass_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("first-pass")]


@pytest.fixture
def click_window(make_window):
    """A window on the 8-image demo; at the end it is closed and its first-pass thread gone."""
    made = []

    def factory():
        made.append(make_window())
        return made[-1]

    yield factory
    for window in made:
        window.close()
    assert not _first_pass_threads()


@pytest.fixture
def scene_window(tmp_path, window_on):
    """A window on a made-up folder: blocks.png (two flat colours 30 apart, for the wand) and
    scene.png (a red ellipse with a near-red rectangle touching it, not part of it)."""
    data = tmp_path / "scenes"
    data.mkdir()
    blocks = np.full((120, 160, 3), 30, np.uint8)
    blocks[30:90, 20:80] = (90, 140, 200)
    blocks[30:90, 80:140] = (120, 170, 230)
    image, obj = ellipse_scene(0)
    h = obj.shape[0]
    right = int(np.nonzero(obj)[1].max())
    extra = np.zeros_like(obj)
    extra[h // 2 - 12 : h // 2 + 12, right - 3 : right + 27] = True
    extra &= ~obj
    shade = np.array([210, 75, 50]) + np.random.default_rng(0).normal(0, 4, (int(extra.sum()), 3))
    image[extra] = np.clip(shade, 0, 255).astype(np.uint8)
    for name, rgb in (("blocks.png", blocks), ("scene.png", image)):
        cv2.imwrite(str(data / name), rgb[:, :, ::-1])
    (data / "tags.csv").write_text("image,tags\nblocks.png,thing\nscene.png,thing\n")
    window = window_on(data)
    window.truth = {"object": obj, "neighbour": extra}
    yield window
    window.close()
    assert not _first_pass_threads()


def _largest_object(window) -> tuple[int, np.ndarray]:
    """The class and bool mask of the largest object in the shown demo image's true mask."""
    truth = read_mask(window.project.root / "ground_truth" / mask_rel_path(window.current.rel_path))
    best = (0, np.zeros(truth.shape, bool))
    for k in (int(v) for v in np.unique(truth) if 0 < v < 255):
        count, parts = cv2.connectedComponents((truth == k).astype(np.uint8))
        for j in range(1, count):
            if (parts == j).sum() > best[1].sum():
                best = (k, parts == j)
    return best


def _choose(window, qtbot, tool_key, modifier=NO_MODIFIER, cls: int = 1) -> None:
    """Pick class `cls` and a tool by their keys; wait for the first pass when it needs one."""
    key(window, getattr(Qt.Key, f"Key_{cls}"))
    key(window, tool_key, modifier)
    if window.canvas.tool in ("click", "box"):
        qtbot.waitUntil(window.click_tool.ready, timeout=30000)


def _right_click(window, x, y) -> None:
    QTest.mouseClick(
        window.canvas.viewport(), Qt.MouseButton.RightButton, NO_MODIFIER, view_point(window, x, y)
    )


def _same(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))


def test_a_click_then_enter_writes_the_class_and_one_undo_takes_it_all_back(click_window, qtbot):
    window = click_window()
    cls, obj = _largest_object(window)
    before = saved_mask(window)
    _choose(window, qtbot, Qt.Key.Key_S, cls=cls)
    x, y = centre_of(obj)
    click(window, x, y)
    region = window.click_tool.region()
    assert region[y, x] and (region & obj).sum() > 0.9 * region.sum()  # on the object
    assert _same(saved_mask(window), before)  # a preview writes nothing
    key(window, Qt.Key.Key_Return)
    saved = saved_mask(window)
    assert saved[y, x] == cls and np.array_equal(saved == cls, region)
    assert window.project.image(window.current.id).state == "edited"
    assert window.current.rel_path in window.project.corrected_images()  # feeds a fine-tune
    undo(window)
    assert _same(saved_mask(window), before)


def test_escape_drops_the_region_and_leaves_the_mask(click_window, qtbot):
    window = click_window()
    cls, obj = _largest_object(window)
    before = saved_mask(window)
    _choose(window, qtbot, Qt.Key.Key_S, cls=cls)
    click(window, *centre_of(obj))
    assert window.click_tool.region().any()
    key(window, Qt.Key.Key_Escape)
    assert window.click_tool.region() is None
    assert not window.click_tool.preview._fill.isVisible()
    key(window, Qt.Key.Key_Return)  # nothing left to accept
    assert _same(saved_mask(window), before)
    assert not window.history.can_undo()


def test_backspace_and_ctrl_z_take_back_clicks_before_the_mask(click_window, qtbot):
    window = click_window()
    cls, obj = _largest_object(window)
    _choose(window, qtbot, Qt.Key.Key_S, cls=cls)
    x, y = centre_of(obj)
    click(window, x, y)
    first = window.click_tool.region()
    _right_click(window, x, y)  # the later click decides the pixel: now outside
    assert not window.click_tool.region()[y, x]
    key(window, Qt.Key.Key_Backspace)
    assert np.array_equal(window.click_tool.region(), first)
    undo(window)  # Ctrl+Z: the last click again, not the mask
    assert not window.click_tool.region().any()
    assert window.click_tool.plan is not None and not window.click_tool.plan.clicks


def test_a_right_click_removes_a_wrongly_included_area(scene_window, qtbot):
    window = scene_window
    key(window, Qt.Key.Key_D)  # scene.png
    obj, neighbour = window.truth["object"], window.truth["neighbour"]
    _choose(window, qtbot, Qt.Key.Key_S)
    click(window, *centre_of(obj))
    assert (window.click_tool.region() & neighbour).sum() > 0.5 * neighbour.sum()
    _right_click(window, *centre_of(neighbour))
    region = window.click_tool.region()
    assert (region & neighbour).sum() < 0.1 * neighbour.sum()
    assert (region & obj).sum() > 0.8 * obj.sum()
    key(window, Qt.Key.Key_Return)
    saved = saved_mask(window)
    assert (saved[neighbour] != 1).all() and (saved[obj] == 1).mean() > 0.8


def test_a_box_drag_gives_a_region_inside_the_box_then_a_click_refines_it(click_window, qtbot):
    window = click_window()
    cls, obj = _largest_object(window)
    _choose(window, qtbot, Qt.Key.Key_S, Qt.KeyboardModifier.ShiftModifier, cls=cls)
    assert window.canvas.tool == "box"
    ys, xs = np.nonzero(obj)
    x0, y0 = max(0, int(xs.min()) - 3), max(0, int(ys.min()) - 3)
    x1, y1 = int(xs.max()) + 3, int(ys.max()) + 3
    drag(window, (x0, y0), (x1, y1))
    region = window.click_tool.region()
    assert region.any() and (region & obj).sum() > 0.5 * obj.sum()
    inside = np.zeros_like(region)
    inside[y0 : y1 + 1, x0 : x1 + 1] = True
    assert not (region & ~inside).any()
    assert window.click_tool.preview._frames[0].isVisible()
    click(window, *centre_of(obj))  # a click refines the box's region
    assert len(window.click_tool.plan.clicks) == 1 and window.click_tool.plan.box is not None
    refined = window.click_tool.region()
    key(window, Qt.Key.Key_Return)
    assert np.array_equal(saved_mask(window) == cls, refined)


def test_a_box_may_start_beside_the_image(click_window, qtbot):
    window = click_window()
    cls, obj = _largest_object(window)
    _choose(window, qtbot, Qt.Key.Key_S, Qt.KeyboardModifier.ShiftModifier, cls=cls)
    ys, xs = np.nonzero(obj)
    drag(window, (-8, -8), (int(xs.max()) + 3, int(ys.max()) + 3))
    assert window.click_tool.plan.box[:2] == (0.0, 0.0)
    assert (window.click_tool.region() & obj).sum() > 0.5 * obj.sum()


def _ctrl_wheel(window, x, y, notches: int) -> None:
    point = QPointF(view_point(window, x, y))
    event = QWheelEvent(
        point,
        window.canvas.viewport().mapToGlobal(point),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(window.canvas.viewport(), event)


def test_the_wand_fills_a_flat_region_and_ctrl_wheel_changes_its_tolerance(scene_window, qtbot):
    window = scene_window  # blocks.png: left block and, 30 levels brighter, the right block
    _choose(window, qtbot, Qt.Key.Key_W)
    window.click_tool.set_tolerance(24)
    zoom = window.canvas.transform().m11()
    click(window, 40, 50)
    saved = saved_mask(window)
    assert (saved[30:90, 20:80] == 1).all() and (saved[30:90, 80:140] != 1).all()
    assert (saved[:30] != 1).all()  # the dark surround stays out
    _ctrl_wheel(window, 40, 50, 2)
    assert window.click_tool.tolerance == 32 and "tolerance 32" in window.click_tool.label.text()
    assert window.canvas.transform().m11() == zoom  # Ctrl+wheel is the wand's, not the zoom's
    click(window, 40, 50)
    assert (saved_mask(window)[30:90, 20:140] == 1).all()
    undo(window)  # each wand click is one edit
    assert (saved_mask(window)[30:90, 80:140] != 1).all()


def test_a_model_that_cannot_be_read_leaves_the_image_alone_to_work(click_window, qtbot):
    window = click_window()
    run = window.project.runs_dir / "run-broken"
    run.mkdir(parents=True)
    (run / "last.pt").write_bytes(b"not a checkpoint")
    window.project.add_run(run, run / "last.pt", kind="train", settings={})
    cls, obj = _largest_object(window)
    _choose(window, qtbot, Qt.Key.Key_S, cls=cls)
    assert "from the image alone (" in window.click_tool.label.text()
    x, y = centre_of(obj)
    click(window, x, y)
    assert window.click_tool.region()[y, x]


def test_the_key_sheet_lists_the_tools_and_their_keys(click_window):
    from app.shortcut_sheet import ShortcutSheet

    listed = ShortcutSheet(click_window()).listed_keys()
    assert {"S", "Shift+S", "W", "Return", "Backspace", "Ctrl+Wheel"} <= listed


def test_with_a_trained_model_the_first_pass_runs_off_the_gui_thread(click_window, qtbot):
    window = click_window()
    panel = window.model_panel
    panel.preset.addItem("tiny")
    panel.preset.setCurrentText("tiny")
    panel.iters.setValue(3)
    window.start_training(resume=False)
    with qtbot.waitSignal(window.worker.finished, timeout=180000):
        pass
    qtbot.waitUntil(lambda: window.project.latest_checkpoint() is not None, timeout=10000)
    cls, obj = _largest_object(window)
    key(window, getattr(Qt.Key, f"Key_{cls}"))
    ticks = []
    timer = QTimer()
    timer.timeout.connect(
        lambda: ticks.append(1) if "preparing" in window.click_tool.label.text() else None
    )
    timer.start(5)
    key(window, Qt.Key.Key_S)
    x, y = centre_of(obj)
    click(window, x, y)  # while the model's pass runs: the click waits for it
    assert "preparing this image… (1 click waits)" in window.click_tool.label.text()
    assert window.click_tool.region() is None
    qtbot.waitUntil(window.click_tool.ready, timeout=120000)
    timer.stop()
    assert len(ticks) > 3  # the event loop ran while the model's pass did
    evidence = window.click_tool._evidence()
    assert evidence.probs is not None  # the model's probabilities, not the image alone
    assert window.click_tool.region()[y, x]  # the waiting click counted
    key(window, Qt.Key.Key_Return)
    assert "from the model" in window.click_tool.label.text()
    assert saved_mask(window)[y, x] == cls
    assert read_image(window.project.image_path(window.current)).shape[:2] == evidence.full_shape
