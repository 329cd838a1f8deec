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
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from mcc_engine.project.store import Project
from tests.engine.editing import (
    IMAGES,
    OPS,
    POINTS,
    RECTS,
    SIZES,
    VALUES,
    Editor,
    OracleImage,
    after,
    apply_to_oracle,
    make_data_folder,
    open_project,
    resolve,
    run_and_kill,
    store_disagrees,
)

ACTIONS = int(os.environ.get("MCC_STATEFUL_ACTIONS", "2000"))
STEPS = 40  # actions per sequence


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
        project = open_project(self.root)
        self.ids = [image.id for image in project.images()]
        self.editor = Editor(project, self.ids)
        self.oracle = {i: OracleImage(shape) for i, shape in zip(self.ids, SIZES, strict=True)}

    @property
    def project(self) -> Project:
        return self.editor.project

    def teardown(self) -> None:
        self.project.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _do(self, op: tuple) -> None:
        EditingMachine.actions += 1
        op = resolve(op, self.ids)
        self.editor.apply(op)
        apply_to_oracle(self.oracle, op)

    @rule(k=IMAGES, rect=RECTS, value=VALUES)
    def paint_a_stroke(self, k, rect, value):
        self._do(("stroke", k, rect, value))

    @rule(k=IMAGES, point=POINTS, value=VALUES)
    def fill_a_class(self, k, point, value):
        self._do(("fill", k, point, value))

    @rule(k=IMAGES)
    def undo(self, k):
        self._do(("undo", k))

    @rule(k=IMAGES)
    def redo(self, k):
        self._do(("redo", k))

    @rule(k=IMAGES)
    def mark_reviewed(self, k):
        self._do(("review", k))

    @rule(k=IMAGES)
    def switch_away(self, k):
        """The editor forgets an image's history; showing it again reads it from the project."""
        EditingMachine.actions += 1
        self.editor.histories.pop(self.ids[k], None)

    @rule(k=IMAGES, value=VALUES)
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
        self.editor = Editor(open_project(self.root), self.ids)
        assert self.project.reconcile_report.repaired == []  # nothing was interrupted

    @rule(batch=st.lists(OPS, min_size=1, max_size=4), kill_at=st.integers(0, 60))
    def kill_a_writer(self, batch, kill_at):
        """A writer process edits and dies by SIGKILL at its `kill_at`-th file or database call;
        reopening must find the project as it was before the op in flight, or after it."""
        EditingMachine.actions += 1
        batch = [resolve(op, self.ids) for op in batch]
        self.project.close()
        started, finished = run_and_kill(self.root, self.ids, batch, kill_at)
        project = open_project(self.root)
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
