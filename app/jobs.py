"""Long work for the window, one job at a time in a worker thread: fine-tune, propose, export."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.model_panel import ModelPanel
from app.workers import Worker
from mcc_engine.data.images import read_image
from mcc_engine.errors import Cancelled
from mcc_engine.formats.export import export_dataset
from mcc_engine.project.store import Project
from mcc_engine.train.config import TrainConfig

# torch loads in the worker thread on first use (inside the jobs), so the window opens at once.


class Jobs(QObject):
    """Runs the model panel's work and reports it through the panel and signals."""

    proposals_done = Signal(int)
    export_done = Signal(object)
    failed = Signal(str)
    no_work = Signal(str, str)  # title, what to do first

    def __init__(self, project: Project, panel: ModelPanel, parent: QObject | None = None, *,
                 before: Callable[[], None] = lambda: None) -> None:  # fmt: skip
        super().__init__(parent)
        self.project, self.panel = project, panel
        self.before = before  # called before work reads the project (pending mask saves land)
        self.worker: Worker | None = None
        self._label = "Working"
        panel.fine_tune.connect(lambda: self.start_training(resume=False))
        panel.resume.connect(lambda: self.start_training(resume=True))
        panel.cancel.connect(self.cancel)
        panel.propose.connect(self.start_proposals)

    def _run(self, job: Callable, done: Callable, label: str, *, stopped: Callable) -> None:
        self._label = label
        if self.worker is not None:  # a QThread must end before its object goes away
            self.worker.wait()
        self.worker = Worker(job)
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(done)
        self.worker.cancelled.connect(lambda exc: self._on_cancelled(exc, stopped))
        self.worker.failed.connect(self._on_failed)
        self.panel.set_busy(True)
        self.worker.start()

    def start_training(self, *, resume: bool) -> None:
        """Fine-tune on the project's tags and corrections in a worker thread."""
        self.before()
        project = self.project
        runs = sorted(project.runs_dir.glob("run-*")) if project.runs_dir.exists() else []
        if resume and not (runs and (runs[-1] / "last.pt").exists()):
            self.no_work.emit("Resume", "There is no interrupted run to resume.")
            return
        init = project.latest_checkpoint()
        cfg = TrainConfig(preset=self.panel.preset.currentText(), iters=self.panel.iters.value(),
                          out=str(project.runs_dir / time.strftime("run-%Y%m%d-%H%M%S")),
                          init=str(init) if init else None, masks=str(project.masks_dir),
                          mask_images=project.corrected_images(), save_every=50, log_every=5)  # fmt: skip
        if resume:
            cfg = TrainConfig(resume=str(runs[-1]), iters=None)
        folder = project.data_folder()
        self.panel.curve.clear()

        def job(progress, should_stop):
            from mcc_engine.train.trainer import train

            return train(cfg, folder=folder, progress=progress, should_stop=should_stop)

        self._run(job, self._training_done, "Fine-tuning", stopped=self._training_stopped)

    def _on_progress(self, p) -> None:
        if hasattr(p, "losses"):
            self.panel.progress.setMaximum(p.total)
            self.panel.progress.setValue(p.step)
            self.panel.curve.add(p.losses["total"])
            self.panel.status.setText(f"Step {p.step}/{p.total} — loss {p.losses['total']:.3f} — "
                                      f"{p.eta_seconds / 60:.1f} min left")  # fmt: skip
        else:
            done, total = p
            self.panel.progress.setMaximum(total)
            self.panel.progress.setValue(done)
            self.panel.status.setText(f"{self._label}: {done}/{total}")

    def _training_done(self, result, *, cancelled: bool = False) -> None:
        self.panel.set_busy(False)
        self.project.add_run(result.run_dir, result.last_checkpoint, kind="fine-tune",
                             settings={"step": result.step, "cancelled": cancelled})  # fmt: skip
        word = "Stopped (checkpoint kept; Resume continues)" if cancelled else "Trained"
        self.panel.status.setText(f"{word} at step {result.step}.")

    def _training_stopped(self, result) -> None:
        self._training_done(result, cancelled=True)

    def start_proposals(self) -> None:
        """Propose masks (with confidence and CAM maps) for every image nobody edited or reviewed."""
        self.before()
        checkpoint = self.project.latest_checkpoint()
        if checkpoint is None:
            self.no_work.emit("Propose masks", "Fine-tune a model first.")
            return
        project = self.project
        targets = [i for i in project.images() if i.state in ("new", "proposed")]

        def job(progress, should_stop):
            from mcc_engine.infer import Predictor

            predictor = Predictor.from_checkpoint(checkpoint)
            written = 0
            for n, image in enumerate(targets):
                if should_stop():
                    raise Cancelled(f"stopped after {written} proposals", kept=written)
                pred = predictor.predict(read_image(project.image_path(image)), image.labels)
                tagged = [k - 1 for k in image.labels if 1 <= k <= pred.cam.shape[0]]
                cam = pred.cam[tagged].max(axis=0) if tagged else pred.cam.max(axis=0)
                written += project.save_proposal(image.id, pred.mask, score=pred.uncertainty(image.labels),
                                                 confidence=pred.confidence, cam=np.clip(cam, 0, 1))  # fmt: skip
                progress((n + 1, len(targets)))
            return written

        self._run(job, self._proposals_done, "Proposing masks", stopped=self._proposals_done)

    def _proposals_done(self, written: int) -> None:
        self.panel.set_busy(False)
        self.panel.status.setText(f"Proposed masks for {written} images.")
        self.proposals_done.emit(written)

    def export(self, settings: dict) -> None:
        """Export the dataset (VOC or COCO) in the background."""
        self.before()
        folder, masks = self.project.data_folder(), self.project.masks_dir

        def job(progress, should_stop):
            return export_dataset(data=folder, masks=masks, progress=lambda i, n: progress((i, n)),
                                  should_stop=should_stop, **settings)  # fmt: skip

        self._run(job, self._export_done, "Exporting", stopped=self._export_stopped)

    def _export_done(self, summary) -> None:
        self.panel.set_busy(False)
        self.panel.status.setText("Export finished.")
        self.export_done.emit(summary)

    def cancel(self) -> None:
        """Ask the running worker to stop."""
        if self.worker is not None:
            self.worker.stop()

    def _export_stopped(self, _kept) -> None:
        self.panel.status.setText("Export stopped; nothing was written.")

    def _on_cancelled(self, exc: Cancelled, stopped: Callable) -> None:
        self.panel.set_busy(False)
        stopped(exc.kept)

    def _on_failed(self, message: str) -> None:
        self.panel.set_busy(False)
        self.panel.status.setText("Failed; see the message.")
        self.failed.emit(message)

    def shutdown(self) -> None:
        """Stop and wait for the worker (closing the window)."""
        if self.worker is not None:
            self.worker.stop()
            self.worker.wait()
