"""A model-based test of the window's edit path (issue 11), with real mouse and key events.

Random strokes (brush, eraser, unlabelled), fills, Ctrl+Z / Ctrl+Shift+Z, image switches
(clicking a row, A / D), R (mark reviewed and go on), click to segment (S: a click, then Enter,
Esc, or the region left showing while other keys come), the colour wand (W), bursts of edits and
undos while saves are in flight, closing and reopening the window, and writer processes killed by SIGKILL between two
windows. After every action, with the saver's queue written: the canvas shows the oracle's mask,
the project's revisions, mask files and states agree with the oracle, and the list shows the
image's state. `MCC_STATEFUL_WINDOW_ACTIONS` sets how many actions run (default 300).
"""

import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app import tools
from tests.app.drive import click, drag, key, redo, undo
from tests.engine.editing import (
    OPS,
    SIZES,
    OracleImage,
    after,
    apply_to_oracle,
    make_data_folder,
    open_project,
    resolve,
    run_and_kill,
    store_disagrees,
)

ACTIONS = int(os.environ.get("MCC_STATEFUL_WINDOW_ACTIONS", "300"))
STEPS = 30
TOOLS = {"brush": Qt.Key.Key_B, "eraser": Qt.Key.Key_E, "ignore": Qt.Key.Key_I}
CLASS_KEYS = (Qt.Key.Key_1, Qt.Key.Key_2)
pixels = st.tuples(st.integers(0, 15), st.integers(0, 15))


def _wait(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.005)


class WindowMachine(RuleBasedStateMachine):
    """A main window on a three-image project, beside the oracle."""

    actions = 0
    clicks: ClassVar[Counter] = Counter()

    def __init__(self) -> None:
        super().__init__()
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.tmp = Path(tempfile.mkdtemp(prefix="mcc-window-", dir=shm))
        self.root = self.tmp / "data"
        make_data_folder(self.root)
        self.window = None
        self._open_window()
        self.ids = [image.id for image in self.window.project.images()]
        self.oracle = {i: OracleImage(shape) for i, shape in zip(self.ids, SIZES, strict=True)}

    def _open_window(self) -> None:
        from app.main_window import MainWindow

        project = open_project(self.root)
        self.window = MainWindow(project)
        self.window.resize(1100, 760)
        self.window.show()
        QTest.qWaitForWindowExposed(self.window)
        self.window.activateWindow()
        _wait(self.window.isActiveWindow)
        self.window.size_spin.setValue(2)  # a fine brush: the images are a few pixels wide

    def teardown(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window.deleteLater()
            QApplication.processEvents()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def current(self) -> OracleImage:
        return self.oracle[self.window.current.id]

    def _inside(self, point: tuple[int, int]) -> tuple[int, int]:
        h, w = self.current.shape
        return min(point[0], w - 1), min(point[1], h - 1)

    # -- edits ----------------------------------------------------------------------------------
    def _stroke(self, tool: str, class_key, start, end) -> None:
        WindowMachine.actions += 1
        key(self.window, TOOLS[tool])
        key(self.window, class_key)
        value = {"eraser": 0, "ignore": 255}.get(tool, self.window.canvas.current_class)
        start, end = self._inside(start), self._inside(end)
        before = self.current.shown()
        drag(self.window, (start[0] + 0.5, start[1] + 0.5), (end[0] + 0.5, end[1] + 0.5))
        painted = self.window.canvas.mask().copy()
        changed = painted != before
        assert (painted[changed] == value).all(), "a stroke paints its own value only"
        ys, xs = np.nonzero(changed)
        if len(xs):  # and only around its line (the brush is 2 pixels wide)
            assert xs.min() >= min(start[0], end[0]) - 2 and xs.max() <= max(start[0], end[0]) + 2
            assert ys.min() >= min(start[1], end[1]) - 2 and ys.max() <= max(start[1], end[1]) + 2
        assert painted[start[1], start[0]] == value
        self.current.edit(painted)

    @rule(
        tool=st.sampled_from(sorted(TOOLS)), k=st.sampled_from(CLASS_KEYS), start=pixels, end=pixels
    )
    def paint_a_stroke(self, tool, k, start, end):
        self._stroke(tool, k, start, end)

    def _fill(self, class_key, point) -> None:
        WindowMachine.actions += 1
        key(self.window, Qt.Key.Key_G)
        key(self.window, class_key)
        x, y = self._inside(point)
        expected = self.current.shown().copy()
        if tools.flood_fill(expected, (x, y), value=self.window.canvas.current_class) is not None:
            self.current.edit(expected)
        click(self.window, x + 0.5, y + 0.5)

    @rule(k=st.sampled_from(CLASS_KEYS), point=pixels)
    def fill_a_region(self, k, point):
        self._fill(k, point)

    @rule(
        k=st.sampled_from(CLASS_KEYS),
        point=pixels,
        then=st.sampled_from(["enter", "escape", "leave it showing"]),
    )
    def click_to_segment(self, k, point, then):
        WindowMachine.actions += 1
        WindowMachine.clicks[then] += 1
        tool = self.window.click_tool
        key(self.window, Qt.Key.Key_S)
        key(self.window, k)
        _wait(tool.ready)
        x, y = self._inside(point)
        before = self.current.shown()
        click(self.window, x + 0.5, y + 0.5)
        _wait(lambda: tool.region() is not None)
        region = tool.region()
        assert region is not None and region[y, x], "the clicked pixel is in the region"
        np.testing.assert_array_equal(self.window.canvas.mask(), before)  # a preview writes nothing
        if then == "leave it showing":
            return
        key(self.window, Qt.Key.Key_Return if then == "enter" else Qt.Key.Key_Escape)
        assert tool.region() is None
        painted = self.window.canvas.mask().copy()
        expected = before.copy()
        if then == "enter":
            expected[region] = self.window.canvas.current_class
        np.testing.assert_array_equal(painted, expected)
        if (painted != before).any():
            self.current.edit(painted)

    @rule(k=st.sampled_from(CLASS_KEYS), point=pixels)
    def colour_wand(self, k, point):
        WindowMachine.actions += 1
        key(self.window, Qt.Key.Key_W)
        key(self.window, k)
        x, y = self._inside(point)
        before = self.current.shown()
        click(self.window, x + 0.5, y + 0.5)
        painted = self.window.canvas.mask().copy()
        value = self.window.canvas.current_class
        assert painted[y, x] == value
        changed = painted != before
        assert (painted[changed] == value).all(), "the wand writes the current class only"
        if changed.any():
            self.current.edit(painted)

    def _undo(self) -> None:
        WindowMachine.actions += 1
        showing = self.window.click_tool.plan is not None
        before = self.current.shown()
        undo(self.window)
        if showing:  # a click region shows: Ctrl+Z takes back a click, not an edit
            np.testing.assert_array_equal(self.window.canvas.mask(), before)
            return
        self.current.undo()

    def _redo(self) -> None:
        WindowMachine.actions += 1
        redo(self.window)
        self.current.redo()

    @rule()
    def press_ctrl_z(self):
        self._undo()

    @rule()
    def press_ctrl_shift_z(self):
        self._redo()

    @rule(
        steps=st.lists(st.sampled_from(["stroke", "undo", "redo"]), min_size=2, max_size=6),
        start=pixels,
        end=pixels,
    )
    def burst_while_saves_are_in_flight(self, steps, start, end):
        """Edits, undos and redos in a row, none waiting for the saves before it."""
        for step in steps:
            if step == "stroke":
                self._stroke("brush", CLASS_KEYS[len(steps) % 2], start, end)
                start, end = end, start
            elif step == "undo":
                self._undo()
            else:
                self._redo()

    @rule()
    def press_r_to_mark_reviewed_and_go_on(self):
        WindowMachine.actions += 1
        apply_to_oracle(self.oracle, ("review", self.window.current.id))
        key(self.window, Qt.Key.Key_R)

    # -- moving around ----------------------------------------------------------------------------
    @rule(row=st.integers(0, len(SIZES) - 1))
    def click_a_row(self, row):
        WindowMachine.actions += 1
        view = self.window.image_list.view
        rect = view.visualRect(self.window.image_list.model.index(row))
        QTest.mouseClick(
            view.viewport(),
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
            rect.center(),
        )
        assert self.window.current.id == self.ids[row]

    @rule(forward=st.booleans())
    def press_a_or_d(self, forward):
        WindowMachine.actions += 1
        key(self.window, Qt.Key.Key_D if forward else Qt.Key.Key_A)

    @rule()
    def close_and_reopen(self):
        WindowMachine.actions += 1
        self.window.close()
        self.window.deleteLater()
        self._open_window()
        assert self.window.project.reconcile_report.repaired == []

    @rule(batch=st.lists(OPS, min_size=1, max_size=3), kill_at=st.integers(0, 50))
    def kill_a_writer_then_reopen(self, batch, kill_at):
        """Between two windows, a writer process edits and dies by SIGKILL mid-save."""
        WindowMachine.actions += 1
        batch = [resolve(op, self.ids) for op in batch]
        self.window.close()
        self.window.deleteLater()
        QApplication.processEvents()
        started, finished = run_and_kill(self.root, self.ids, batch, kill_at)
        self._open_window()
        prefixes = [len(batch)] if finished else sorted({max(0, started - 1), started})
        for n in prefixes:
            candidate = after(self.oracle, batch[:n])
            if store_disagrees(self.window.project, candidate) is None:
                self.oracle = candidate
                return
        raise AssertionError(f"after a kill in op {started} of {batch}")

    # -- what must hold -------------------------------------------------------------------------
    @invariant()
    def the_window_and_the_project_show_what_the_oracle_says(self):
        self.window.saver.flush()
        np.testing.assert_array_equal(self.window.canvas.mask(), self.current.shown())
        problem = store_disagrees(self.window.project, self.oracle)
        assert problem is None, problem
        model = self.window.image_list.model
        row = model.row_of(self.window.current.id)
        assert model.rows[row].state == self.current.current().state


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the killed writers are forked processes")
def test_the_window_edits_agree_with_the_oracle_through_random_actions(qapp):
    WindowMachine.actions = 0
    WindowMachine.clicks = Counter()
    run_state_machine_as_test(
        WindowMachine,
        settings=settings(
            max_examples=ACTIONS * 11 // (STEPS * 10) + 1,  # some sequences end early
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(f"{WindowMachine.actions} window actions; click to segment: {dict(WindowMachine.clicks)}")
    assert WindowMachine.actions >= ACTIONS, WindowMachine.actions
