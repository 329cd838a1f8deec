"""Mask saves off the GUI thread, in order: a 20-megapixel PNG takes a tenth of a second or more."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from mcc_engine.errors import InputError
from mcc_engine.project.store import Project


class _Signals(QObject):
    saved = Signal(int, float)  # image id, seconds
    failed = Signal(int, str)


class _Save(QRunnable):
    def __init__(self, project: Project, image_id: int, mask: np.ndarray, state: str, signals: _Signals) -> None:  # fmt: skip
        super().__init__()
        self.project, self.image_id, self.mask, self.state, self.signals = project, image_id, mask, state, signals  # fmt: skip

    def run(self) -> None:
        import time

        started = time.perf_counter()
        try:
            self.project.save_mask(self.image_id, self.mask, state=self.state)
        except (InputError, OSError) as exc:
            self.signals.failed.emit(self.image_id, str(exc))
            return
        self.signals.saved.emit(self.image_id, time.perf_counter() - started)


class MaskSaver(QObject):
    """Saves masks one after another in a thread; `flush()` before reading masks back."""

    saved = Signal(int, float)
    failed = Signal(int, str)

    def __init__(self, project: Project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # one thread: saves land in the order they were made
        self._signals = _Signals(self)
        self._signals.saved.connect(self.saved)
        self._signals.failed.connect(self.failed)

    def save(self, image_id: int, mask: np.ndarray, *, state: str = "edited") -> None:
        """Queue a save of a copy of `mask`."""
        self._pool.start(_Save(self.project, image_id, mask.copy(), state, self._signals))

    def flush(self) -> None:
        """Wait until every queued save is on disk."""
        self._pool.waitForDone()
