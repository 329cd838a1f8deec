"""Mask changes off the GUI thread, in the order they were made (a 20-megapixel PNG takes 0.2 s).

The saver is the `HistorySink` of the window's image histories: an edit, an undo, a redo and a
state change go into one queue and reach the project one after another in a plain Python thread,
so the project always ends up where the histories are. Reading a revision back first waits for
the queue. After a failed change to an image, its later queued changes are skipped until the
window has taken the project's history back (`recover`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.background import Background
from mcc_engine.errors import InputError
from mcc_engine.project.store import Project, StaleHistory

log = logging.getLogger(__name__)


class MaskSaver(QObject):
    """Queues the project's mask changes; `flush()` before reading masks back."""

    saved = Signal(int, float)  # image id, seconds
    failed = Signal(int, str)  # image id, message (the change was not stored)
    stale = Signal(int)  # image id: another writer changed its history

    def __init__(self, project: Project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self._worker = Background(self, name="mask-saver")  # one thread: changes stay in order
        self._broken: set[int] = set()  # used in the saver's thread only

    # -- the HistorySink ------------------------------------------------------------------------
    def push_mask(
        self, image_id: int, mask: np.ndarray, *, state: str, expect_pos: int, expect_state: str
    ) -> None:
        """Queue a new revision (`mask` must not change afterwards: the history hands a copy)."""
        self._submit(
            image_id,
            lambda: self.project.push_mask(
                image_id, mask, state=state, expect_pos=expect_pos, expect_state=expect_state
            ),
        )

    def move_to(self, image_id: int, seq: int) -> None:
        """Queue an undo or redo (to revision `seq`)."""
        self._submit(image_id, lambda: self.project.move_to(image_id, seq))

    def set_state(self, image_id: int, state: str) -> None:
        """Queue a state change (reviewed)."""
        self._submit(image_id, lambda: self.project.set_state(image_id, state))

    def revision_mask(self, image_id: int, seq: int) -> np.ndarray | None:
        """A stored revision's mask, after the queued changes."""
        self.flush()
        return self.project.revision_mask(image_id, seq)

    # -- the queue --------------------------------------------------------------------------------
    def flush(self) -> None:
        """Wait until every queued change is stored (and its signal delivered)."""
        self._worker.wait()

    def recover(self, image_id: int) -> None:
        """Take changes to an image again after a failure (the caller then re-reads its history)."""
        self._worker.submit(lambda: self._broken.discard(image_id))
        self.flush()

    def close(self) -> None:
        """Store what is queued and end the thread."""
        self._worker.shutdown()

    def _submit(self, image_id: int, change: Callable[[], object]) -> None:
        def job() -> tuple[str, object]:
            if image_id in self._broken:
                return "skipped", None
            started = time.perf_counter()
            try:
                change()
            except StaleHistory as exc:
                self._broken.add(image_id)
                log.info("stale history: %s", exc)
                return "stale", None
            except (InputError, OSError) as exc:
                self._broken.add(image_id)
                return "failed", str(exc)
            except Exception as exc:  # a bug: say so, and keep the project's state as it is
                self._broken.add(image_id)
                log.exception("saving image %s failed", image_id)
                return "failed", f"unexpected error: {exc!r}"
            return "saved", time.perf_counter() - started

        self._worker.submit(job, lambda result: self._report(image_id, *result))

    def _report(self, image_id: int, outcome: str, detail: object) -> None:
        if outcome == "saved":
            self.saved.emit(image_id, detail)
        elif outcome == "failed":
            self.failed.emit(image_id, detail)
        elif outcome == "stale":
            self.stale.emit(image_id)
