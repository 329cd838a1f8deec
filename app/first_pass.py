"""The click and box tools' first pass over an image, in a background thread, kept for a few images.

The pass is the image's own evidence (colour and edges: a fraction of a second) and, when the
project has a trained model, the model's class probabilities and token features (seconds on a
CPU), so it never runs on the GUI thread. torch is imported there too, on first use.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.background import Background

log = logging.getLogger(__name__)
KEPT: Final = 4  # images whose first pass stays in memory (the window keeps 4 histories too)


@dataclass(frozen=True)
class PassKey:
    """What a first pass depends on: the image, the model file (and when it was written, since a
    resumed run rewrites it) and the classes the model may find there (None: every class)."""

    image_id: int
    checkpoint: str | None = None
    written: int = 0
    labels: tuple[int, ...] | None = None


def pass_key(image_id: int, checkpoint: Path | None, labels: tuple[int, ...] | None) -> PassKey:
    """The key of an image's first pass with the project's newest model (None: no model)."""
    if checkpoint is None:
        return PassKey(image_id)
    try:
        written = checkpoint.stat().st_mtime_ns
    except OSError:  # gone since the project listed it: the pass falls back to the image alone
        written = 0
    return PassKey(image_id, str(checkpoint), written, labels)


@dataclass(frozen=True)
class PassResult:
    """A finished first pass: the evidence, how long it took, and why the model was left out."""

    key: PassKey
    evidence: object  # mcc_engine.interactive.ImageEvidence; None when the pass was skipped
    seconds: float
    problem: str = ""


class FirstPass(QObject):
    """Runs first passes one at a time in a Python thread; `ready(PassResult)` on the GUI
    thread, also for a pass that failed (its `evidence` None, its `problem` saying why)."""

    ready = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._results: OrderedDict[PassKey, PassResult] = OrderedDict()
        self._pending: set[PassKey] = set()
        self._wanted: PassKey | None = None  # read by the thread: passes no longer wanted skip
        self._background: Background | None = None  # started on first use
        self._net: tuple[tuple[str, int], object] | None = None  # the thread's only

    def result(self, key: PassKey) -> PassResult | None:
        """The finished pass for `key`, if it is kept."""
        found = self._results.get(key)
        if found is not None:
            self._results.move_to_end(key)
        return found

    def request(self, key: PassKey, image: np.ndarray) -> None:
        """Start the pass for `key` unless it is kept or under way; earlier requests not started
        yet are skipped (the user has moved on)."""
        self._wanted = key
        if key in self._results or key in self._pending:
            return
        if self._background is None:
            self._background = Background(self, name="first-pass")
        self._pending.add(key)
        self._background.submit(
            lambda: self._run(key, image), lambda result: self._finished(result, image)
        )

    def busy(self) -> bool:
        """Whether a pass is queued or running."""
        return bool(self._pending)

    def shutdown(self) -> None:
        """Skip the queued passes, wait for the running one, end the thread."""
        self._wanted = None
        if self._background is not None:
            self._background.shutdown()

    def _run(self, key: PassKey, image: np.ndarray) -> PassResult:
        """The pass itself (in the thread)."""
        if key != self._wanted:
            return PassResult(key, None, 0.0)
        from mcc_engine.interactive import image_evidence

        start = time.perf_counter()
        try:
            evidence, problem = image_evidence(image), ""
        except Exception as exc:  # a bug: reported where the tool shows its state, not a crash
            log.exception("first pass of image %s failed", key.image_id)
            return PassResult(key, None, 0.0, f"the first pass failed: {exc}")
        if key.checkpoint is not None:
            try:
                evidence = self._model_evidence(key, image, evidence)
            except Exception as exc:  # a bad or unreadable model: the image alone still works
                log.warning("first pass without the model %s: %s", key.checkpoint, exc)
                problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return PassResult(key, evidence, time.perf_counter() - start, problem)

    def _model_evidence(self, key: PassKey, image: np.ndarray, base):
        from mcc_engine.interactive import ClickModel, model_evidence
        from mcc_engine.train.device import pick_device

        model_id = (key.checkpoint, key.written)
        if self._net is None or self._net[0] != model_id:
            self._net = None  # one model in memory: free the old one before loading the new
            net = ClickModel.from_checkpoint(key.checkpoint, device=str(pick_device("auto")))
            self._net = (model_id, net)
        return model_evidence(self._net[1], image, labels=key.labels, base=base)

    def _finished(self, result: PassResult, image: np.ndarray) -> None:
        self._pending.discard(result.key)
        if result.evidence is None and not result.problem:  # skipped
            if result.key == self._wanted:  # wanted again while its skip was on its way back
                self.request(result.key, image)
            return
        if result.evidence is not None:
            self._results[result.key] = result
            while len(self._results) > KEPT:
                self._results.popitem(last=False)
        self.ready.emit(result)
