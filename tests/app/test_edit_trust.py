"""Edits you can trust (issue 11, findings 1-5): one undo history, saves that agree after a kill."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from mcc_engine.data.demo import write_demo
from mcc_engine.data.masks import read_mask
from mcc_engine.project.store import Project
from tests.app.conftest import saved_mask
from tests.app.drive import drag, key, redo, undo, view_point

ROOT = Path(__file__).resolve().parents[2]
REVIEWED = 5  # the demo's first images come with reviewed masks, as the app's demo does


def _demo_with_reviewed_masks(data: Path, count: int = 8) -> None:
    write_demo(data, count=count, seed=5)
    with Project.open(data) as project:
        for image in project.images()[:REVIEWED]:
            truth = read_mask(data / "ground_truth" / image.rel_path.replace(".jpg", ".png"))
            project.save_mask(image.id, truth, state="reviewed")


@pytest.fixture
def reviewed_window(tmp_path, window_on):
    """A window on an 8-image demo whose first five images are reviewed."""

    def factory():
        data = tmp_path / "demo"
        if not data.exists():
            _demo_with_reviewed_masks(data)
        return window_on(data)

    return factory


def _click_row(window, row: int) -> None:
    view = window.image_list.view
    rect = view.visualRect(window.image_list.model.index(row))
    QTest.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
    )


def _pick_class_not_in(window, mask: np.ndarray) -> int:
    """Press number keys until the current class is one the mask does not hold."""
    for k in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3, Qt.Key.Key_4):
        key(window, k)
        if not (mask == window.canvas.current_class).any():
            return window.canvas.current_class
    raise AssertionError("every class is in the mask")


def _shown(window) -> np.ndarray:
    return window.canvas.mask().copy()


def _state(window) -> str:
    window.saver.flush()
    return window.project.image(window.current.id).state


def test_undo_twice_never_brings_an_undone_stroke_back(reviewed_window):
    # Finding 1: reviewed scene_0004, one stroke, Ctrl+Z (gone), Ctrl+Z again (it came back).
    window = reviewed_window()
    _click_row(window, 4)
    assert window.current.rel_path.endswith("scene_0004.jpg")
    truth = saved_mask(window)
    cls = _pick_class_not_in(window, truth)
    drag(window, (10, 30), (80, 30))
    stroke = saved_mask(window) == cls
    assert stroke.sum() > 20
    undo(window)
    np.testing.assert_array_equal(saved_mask(window), truth)
    undo(window)
    after = saved_mask(window)
    shown = _shown(window)
    assert not (shown[stroke] == cls).any(), "the undone stroke is back on the canvas"
    assert after is None or not (after[stroke] == cls).any(), "the undone stroke is back on disk"
    redo(window)
    np.testing.assert_array_equal(saved_mask(window), truth)
    assert _state(window) == "reviewed"


def test_undo_and_redo_never_destroy_a_reviewed_mask(reviewed_window):
    # Finding 2: reviewed scene_0000: one stroke, Ctrl+Z x4, Ctrl+Shift+Z x2, Ctrl+Z.
    window = reviewed_window()
    assert window.current.rel_path.endswith("scene_0000.jpg")
    truth = saved_mask(window)
    cls = _pick_class_not_in(window, truth)
    drag(window, (10, 30), (80, 30))
    for _ in range(4):
        undo(window)
    for _ in range(2):
        redo(window)
    undo(window)
    np.testing.assert_array_equal(saved_mask(window), truth)
    np.testing.assert_array_equal(_shown(window), truth)
    assert _state(window) == "reviewed"  # undoing back to the reviewed mask restores the state
    redo(window)
    assert (saved_mask(window) == cls).sum() > 20  # the stroke is still there to redo


def test_after_a_kill_in_a_save_the_file_and_history_agree(reviewed_window, tmp_path):
    # Finding 3: 3 strokes, SIGKILL while the last one is saved, reopen.
    data = tmp_path / "demo"
    _demo_with_reviewed_masks(data)
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "MCC_ANNOTATE_HOME": str(tmp_path / "home"),
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests/app/kill_painter.py"),
            str(data),
            str(tmp_path / "child-settings"),
            "3",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -9, done.stderr[-3000:]
    assert "painted" in done.stdout
    window = reviewed_window()
    assert "1 mask restored to the last saved edit" in window.statusBar().currentMessage()
    shown = _shown(window)
    np.testing.assert_array_equal(saved_mask(window), shown)  # file == canvas
    third_row = 10 + 8 * 2
    assert (shown[third_row, 20:60] == 3).all(), "the third stroke, whose save was in flight"
    undo(window)
    assert not (saved_mask(window)[third_row, 20:60] == 3).all()
    assert not (_shown(window)[third_row, 20:60] == 3).all()
    assert (saved_mask(window)[10 + 8, 20:60] == 2).all()  # the second stroke stays
    redo(window)
    assert (saved_mask(window)[third_row, 20:60] == 3).all()
    np.testing.assert_array_equal(_shown(window), saved_mask(window))


def test_an_undo_right_after_two_strokes_lands_in_order_behind_their_saves(reviewed_window):
    # Stroke, stroke, Ctrl+Z at once: the saves are still queued when the undo comes.
    window = reviewed_window()
    _click_row(window, 6)  # an image without a mask
    for cls, y in ((1, 20), (2, 40)):
        window.canvas.current_class = cls
        drag(window, (10, y), (80, y))
    undo(window)
    shown = _shown(window)
    assert (shown[20, 20:60] == 1).all() and not (shown[40, 20:60] == 2).any()
    np.testing.assert_array_equal(saved_mask(window), shown)
    assert window.project.history(window.current.id).pos == 1
    redo(window)
    assert (saved_mask(window)[40, 20:60] == 2).all()


def test_an_image_that_cannot_be_read_leaves_the_shown_image_in_charge(
    reviewed_window, monkeypatch
):
    # Finding 5: a failed open must change nothing; strokes go to the image shown.
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    window = reviewed_window()
    first = window.current.id
    broken = window.project.image_path(window.project.images()[6])
    data = broken.read_bytes()
    broken.write_bytes(data[: len(data) // 2])  # the header reads, the pixels do not
    _click_row(window, 6)
    assert warnings and str(broken) in warnings[0]
    assert window.current.id == first
    assert window.image_list.current_id() == first  # the list shows what the canvas shows
    drag(window, (10, 30), (80, 30))
    window.saver.flush()
    assert not warnings[1:], warnings
    broken_id = window.project.images()[6].id
    assert window.project.load_mask(broken_id) is None  # nothing saved under its id
    np.testing.assert_array_equal(saved_mask(window), _shown(window))
    assert window.project.image(first).state == "edited"


def test_a_stroke_under_way_when_a_key_changes_the_image_stays_with_its_image(reviewed_window):
    window = reviewed_window()
    _click_row(window, 6)
    first = window.current.id
    window.canvas.current_class = 2
    viewport = window.canvas.viewport()
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QTest.mousePress(viewport, left, none, view_point(window, 10, 30))
    QTest.mouseMove(viewport, view_point(window, 60, 30))
    key(window, Qt.Key.Key_D)  # the button is still down
    QTest.mouseRelease(viewport, left, none, view_point(window, 60, 30))
    assert window.current.id != first
    window.saver.flush()
    assert (window.project.load_mask(first)[30, 15:55] == 2).all()
    assert window.project.load_mask(window.current.id) is None


def test_saves_and_thumbnails_run_in_plain_threads_that_never_touch_qt(
    reviewed_window, monkeypatch, tmp_path
):
    # Finding 4: a crash in the list's paint while the saver ran. No Qt object may be used off
    # the GUI thread: saves and thumbnails run in Python threads that make no Qt call.
    import app.thumbnails

    touched: list[str] = []
    watched: set[str] = set()  # threads the profile saw at work
    workers: dict[str, set[threading.Thread]] = {"save": set(), "thumbnail": set()}

    def profile(frame, event, arg):
        watched.add(threading.current_thread().name)
        if event == "c_call":
            owner = getattr(arg, "__self__", None)
            module = getattr(arg, "__module__", None) or type(owner).__module__
            if module and module.startswith(("PySide6", "shiboken6")):
                touched.append(f"{threading.current_thread().name}: {arg!r}")

    real_replace, real_thumbnail = os.replace, app.thumbnails.make_thumbnail

    def replace(src, dst, *args, **kwargs):
        if "mcc_project/masks" in str(dst).replace(os.sep, "/"):
            workers["save"].add(threading.current_thread())
        return real_replace(src, dst, *args, **kwargs)

    def make_thumbnail(*args, **kwargs):
        workers["thumbnail"].add(threading.current_thread())
        return real_thumbnail(*args, **kwargs)

    _demo_with_reviewed_masks(tmp_path / "demo")  # before the watch: these saves are the test's
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(app.thumbnails, "make_thumbnail", make_thumbnail)
    threading.setprofile(profile)
    try:
        window = reviewed_window()
        for step in range(12):  # paint while saves are in flight, switching images fast
            window.canvas.current_class = 1 + step % 4
            drag(window, (5, 10 + step), (70, 10 + step))
            key(window, Qt.Key.Key_D if step % 3 else Qt.Key.Key_A)
        window.saver.flush()
        window.thumbnails.shutdown()
    finally:
        threading.setprofile(None)
    for kind, threads in workers.items():
        assert threads, f"no {kind} was made"
        for thread in threads:
            assert thread is not threading.main_thread(), f"{kind}s run on the GUI thread"
            assert not isinstance(thread, threading._DummyThread), f"{kind}s run in a Qt thread"
            assert thread.name in watched
    assert not touched, touched[:5]
