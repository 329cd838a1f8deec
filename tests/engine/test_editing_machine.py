"""A model-based test of editing against the project store (issue 11).

Random sequences of strokes, fills, undos, redos, reviews, image switches, proposals, closing
and reopening the project, and writer processes killed with SIGKILL at a chosen file or database
operation, then reopened. Edits go through `MaskHistory` (the window's view of an image's
history) with the project as its sink. After every action the project must agree with a plain
oracle (`editing_oracle.py`): revisions, current one, mask files, states, and every cached
history's mask. `MCC_STATEFUL_ACTIONS` sets how many actions run (default 2,000); the runs are
derandomized, so a failure replays.
"""

import os
import select
import shutil
import signal
import tempfile
import traceback
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from mcc_engine.project.database import Database
from mcc_engine.project.history import MaskHistory
from mcc_engine.project.store import Project
from tests.engine.editing_oracle import (
    LIMIT,
    SIZES,
    OracleImage,
    after,
    apply_to_oracle,
    clip,
    fill,
    make_data_folder,
    store_disagrees,
    stroke,
)

ACTIONS = int(os.environ.get("MCC_STATEFUL_ACTIONS", "2000"))
STEPS = 40  # actions per sequence

images = st.integers(0, len(SIZES) - 1)
values = st.sampled_from([0, 1, 2, 3, 255])
rects = st.tuples(st.integers(0, 15), st.integers(0, 15), st.integers(1, 8), st.integers(1, 8))
points = st.tuples(st.integers(0, 15), st.integers(0, 15))
ops = st.one_of(
    st.tuples(st.just("stroke"), images, rects, values),
    st.tuples(st.just("fill"), images, points, values),
    st.tuples(st.sampled_from(["undo", "redo", "review"]), images),
)


class Editor:
    """What a window does with a project: a history per image it has shown, edits through them."""

    def __init__(self, project: Project, ids: list[int]) -> None:
        self.project, self.ids = project, ids
        self.histories: dict[int, MaskHistory] = {}

    def history(self, image_id: int) -> MaskHistory:
        """The image's history, read from the project the first time."""
        if image_id not in self.histories:
            shape = SIZES[self.ids.index(image_id)]
            info = self.project.history(image_id)
            mask = self.project.load_mask(image_id)
            self.histories[image_id] = MaskHistory(info, mask, shape=shape, sink=self.project)
        return self.histories[image_id]

    def apply(self, op: tuple) -> None:
        """One editing action, as the canvas and the window's keys do it."""
        kind, image_id, *args = op
        history = self.history(image_id)
        if kind in ("stroke", "fill"):
            before = history.mask.copy()
            if kind == "stroke":
                stroke(history.mask, *args)
                rect = args[0]
            else:
                rect = fill(history.mask, *args)
            x, y, w, h = rect
            history.commit(rect, before[y : y + h, x : x + w])
        elif kind == "undo":
            history.undo()
        elif kind == "redo":
            history.redo()
        elif kind == "review":
            if history.has_mask:
                history.set_state("reviewed")
            else:
                history.commit_whole(state="reviewed")


def _open(root: Path) -> Project:
    project = Project.open(root)
    project.revisions.limit = LIMIT
    return project


class EditingMachine(RuleBasedStateMachine):
    """The project and an editor on it, beside the oracle."""

    actions = 0

    def __init__(self) -> None:
        super().__init__()
        # In memory where there is a tmpfs: a kill loses no written page, and fsync costs nothing.
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.tmp = Path(tempfile.mkdtemp(prefix="mcc-editing-", dir=shm))
        self.root = self.tmp / "data"
        make_data_folder(self.root)
        project = _open(self.root)
        self.ids = [image.id for image in project.images()]
        self.editor = Editor(project, self.ids)
        self.oracle = {i: OracleImage(shape) for i, shape in zip(self.ids, SIZES, strict=True)}

    @property
    def project(self) -> Project:
        return self.editor.project

    def teardown(self) -> None:
        self.project.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _op(self, op: tuple) -> tuple:
        """Resolve an op's image index to its id and its rectangle or point to the image."""
        kind, k, *args = op
        shape = SIZES[k]
        if kind == "stroke":
            args = [clip(args[0], shape), args[1]]
        elif kind == "fill":
            args = [(min(args[0][0], shape[1] - 1), min(args[0][1], shape[0] - 1)), args[1]]
        return (kind, self.ids[k], *args)

    def _do(self, op: tuple) -> None:
        EditingMachine.actions += 1
        op = self._op(op)
        self.editor.apply(op)
        apply_to_oracle(self.oracle, op)

    @rule(k=images, rect=rects, value=values)
    def paint_a_stroke(self, k, rect, value):
        self._do(("stroke", k, rect, value))

    @rule(k=images, point=points, value=values)
    def fill_a_class(self, k, point, value):
        self._do(("fill", k, point, value))

    @rule(k=images)
    def undo(self, k):
        self._do(("undo", k))

    @rule(k=images)
    def redo(self, k):
        self._do(("redo", k))

    @rule(k=images)
    def mark_reviewed(self, k):
        self._do(("review", k))

    @rule(k=images)
    def switch_away(self, k):
        """The editor forgets an image's history; showing it again reads it from the project."""
        EditingMachine.actions += 1
        self.editor.histories.pop(self.ids[k], None)

    @rule(k=images, value=values)
    def propose(self, k, value):
        EditingMachine.actions += 1
        image_id = self.ids[k]
        mask = np.full(SIZES[k], value, np.uint8)
        assert self.project.save_proposal(image_id, mask) == self.oracle[image_id].propose(mask)
        self.editor.histories.pop(image_id, None)  # the window re-reads images after proposing

    @rule()
    def close_and_reopen(self):
        EditingMachine.actions += 1
        self.project.close()
        self.editor = Editor(_open(self.root), self.ids)
        assert self.project.reconcile_report.repaired == []  # nothing was interrupted

    @rule(batch=st.lists(ops, min_size=1, max_size=4), kill_at=st.integers(0, 60))
    def kill_a_writer(self, batch, kill_at):
        """A writer process edits and dies by SIGKILL at its `kill_at`-th file or database call;
        reopening must find the project as it was before the op in flight, or after it."""
        EditingMachine.actions += 1
        batch = [self._op(op) for op in batch]
        self.project.close()
        started, finished = _run_and_kill(self.root, self.ids, batch, kill_at)
        project = _open(self.root)
        self.editor = Editor(project, self.ids)
        prefixes = [len(batch)] if finished else sorted({max(0, started - 1), started})
        for n in prefixes:
            candidate = after(self.oracle, batch[:n])
            if store_disagrees(project, candidate) is None:
                self.oracle = candidate
                break
        else:
            raise AssertionError(
                f"after a kill in op {started} of {batch}: {store_disagrees(project, candidate)}"
            )
        in_flight = set() if finished else {op[1] for op in batch[max(0, started - 1) : started]}
        repaired = {
            i.id for i in project.images() if i.rel_path in project.reconcile_report.repaired
        }
        assert repaired <= in_flight, "only the op in flight may leave a file to repair"

    @invariant()
    def the_project_shows_what_the_oracle_says(self):
        problem = store_disagrees(self.project, self.oracle)
        assert problem is None, problem
        for image_id, history in self.editor.histories.items():
            image = self.oracle[image_id]
            np.testing.assert_array_equal(history.mask, image.shown())
            assert history.state == image.current().state
            assert history.can_undo() == (image.pos - 1 in image.revs)
            assert history.can_redo() == (image.pos + 1 in image.revs)
        pending = self.project._db.query("SELECT COUNT(*) FROM images WHERE mask_pending=1")
        assert pending[0][0] == 0


def _run_and_kill(root: Path, ids: list[int], batch: list[tuple], kill_at: int) -> tuple[int, bool]:
    """Fork a writer that applies `batch` and dies by SIGKILL; (ops started, all finished)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer: never returns into the test
        try:
            os.close(read)
            _writer(root, ids, batch, kill_at, write)
        except BaseException:
            os.write(write, f"error {traceback.format_exc()}\n".encode())
            os._exit(70)
    os.close(write)
    output = b""
    while True:  # the pipe ends when the writer does
        ready, _, _ = select.select([read], [], [], 60)
        chunk = os.read(read, 65536) if ready else None
        if chunk is None:
            os.kill(pid, signal.SIGKILL)
        if not chunk:
            break
        output += chunk
    os.close(read)
    _, status = os.waitpid(pid, 0)
    text = output.decode()
    assert chunk is not None, f"the writer hung: {text}"
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, text
    lines = text.split()
    return lines.count("op"), "all" in lines


def _writer(root: Path, ids: list[int], batch: list[tuple], kill_at: int, out: int) -> None:
    """In the forked writer: count file and database calls, die by SIGKILL at the chosen one."""
    calls = [0]

    def counted(real):
        def call(*args, **kwargs):
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        return call

    os.replace, os.fsync, os.unlink = counted(os.replace), counted(os.fsync), counted(os.unlink)
    Database.query = counted(Database.query)
    editor = Editor(_open(root), ids)
    for op in batch:
        os.write(out, b"op\n")
        editor.apply(op)
    os.write(out, b"all\n")
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the killed writers are forked processes")
def test_editing_agrees_with_the_oracle_through_random_actions():
    EditingMachine.actions = 0
    run_state_machine_as_test(
        EditingMachine,
        settings=settings(
            max_examples=ACTIONS * 11 // (STEPS * 10) + 1,  # some sequences end early
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
    print(f"{EditingMachine.actions} actions")
    assert EditingMachine.actions >= ACTIONS, EditingMachine.actions
