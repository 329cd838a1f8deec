"""Long work for the window, one job at a time in a worker thread: fine-tune, propose, export,
suggest tags.

Each job calls the engine function the CLI calls (`train`, `infer_folder`, `export_dataset`) with
progress and should-stop callbacks; this file only turns their reports into the model panel's
bar and status line, and stores proposals through the project.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.model_panel import ModelPanel
from app.workers import Worker
from mcc_engine.errors import Cancelled
from mcc_engine.formats.export import export_dataset
from mcc_engine.project.store import ImageInfo, Project
from mcc_engine.train.config import TrainConfig
from mcc_engine.train.enough_tags import too_few_tags
from mcc_engine.train.run_state import latest_resumable, read_log

# torch loads in the worker thread on first use (inside the jobs), so the window opens at once.


@dataclass(frozen=True)
class Stage:
    """A step of a job that has no count yet (loading torch, building the model, first step)."""

    text: str


def time_left(seconds: float) -> str:
    """A rough remaining time for people: "40 s left", "3.5 min left"."""
    return f"{seconds:.0f} s left" if seconds < 90 else f"{seconds / 60:.1f} min left"


class Jobs(QObject):
    """Runs the model panel's work and reports it through the panel and signals."""

    proposals_done = Signal(int)
    suggestions_done = Signal(int)  # images scored
    export_done = Signal(object)
    failed = Signal(str)
    no_work = Signal(str, str)  # title, what to do first

    def __init__(
        self,
        project: Project,
        panel: ModelPanel,
        parent: QObject | None = None,
        *,
        before: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(parent)
        self.project, self.panel = project, panel
        self.before = before  # called before work reads the project (pending mask saves land)
        self.worker: Worker | None = None
        self._label = "Working"
        self._started = 0.0
        self._done: Callable | None = None
        self._stopped: Callable | None = None
        panel.fine_tune.connect(lambda: self.start_training(resume=False))
        panel.resume.connect(lambda: self.start_training(resume=True))
        panel.cancel.connect(self.cancel)
        panel.propose.connect(self.start_proposals)
        panel.set_resumable(latest_resumable(project.runs_dir) is not None)

    def _run(self, job: Callable, done: Callable, label: str, *, stopped: Callable) -> None:
        """Run `job` in a worker: `done(result)` when it ends, `stopped(kept)` when cancelled."""
        self._label = label
        if self.worker is not None:  # a QThread must end before its object goes away
            self.worker.wait()
        self.worker = Worker(job)
        self._done, self._stopped = done, stopped
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(self._finished)
        self.worker.cancelled.connect(lambda exc: self._on_cancelled(exc.kept))
        self.worker.failed.connect(self._on_failed)
        self.panel.set_busy(True)
        self._started = time.monotonic()
        self.worker.start()

    def _finished(self, result) -> None:
        done, self._done, self._stopped = self._done, None, None
        if done is not None:  # once: shutdown may have handled it already
            done(result)

    def _on_cancelled(self, kept) -> None:
        stopped, self._done, self._stopped = self._stopped, None, None
        self.panel.set_busy(False)
        if stopped is not None:  # once, as for _finished
            stopped(kept)

    def start_training(self, *, resume: bool) -> None:
        """Fine-tune on the project's tagged images and corrections in a worker thread; refused
        (a dialog says why) below the minimum of tags (`enough_tags`)."""
        self.before()
        project = self.project
        everything = project.data_folder()
        refusal = too_few_tags(everything)
        if refusal is not None:
            self.no_work.emit(
                "Fine-tune", f"{refusal}\n\nTag more images in the tagging view (Ctrl+T)."
            )
            return
        run = latest_resumable(project.runs_dir) if resume else None
        if resume and run is None:
            self.no_work.emit("Resume", "There is no stopped fine-tune to resume.")
            return
        if run is not None:
            cfg = TrainConfig(resume=str(run), iters=None)
            self.panel.curve.set_values([row["total"] for row in read_log(run) if "total" in row])
        else:
            init = project.latest_checkpoint()
            cfg = TrainConfig(
                preset=self.panel.preset.currentText(),
                iters=self.panel.iters.value(),
                out=str(project.runs_dir / time.strftime("run-%Y%m%d-%H%M%S")),
                init=str(init) if init else None,
                masks=str(project.masks_dir),
                mask_images=project.corrected_images(),
                save_every=50,
                log_every=5,
            )
            self.panel.curve.clear()
        folder = project.data_folder(tagged=True)  # an untagged image is no "none of them"
        left_out = len(everything.samples) - len(folder.samples)
        images = f"{len(folder.samples)} tagged images" + (
            f" ({left_out} untagged left out)" if left_out else ""
        )
        self.panel.show_stage(f"Preparing to fine-tune on {images}: loading torch…")

        def job(progress, should_stop):
            from mcc_engine.train.trainer import train

            progress(
                Stage(
                    f"Preparing: building the model and reading {images}, "
                    "then the first step (the slowest)…"
                )
            )
            return train(cfg, folder=folder, progress=progress, should_stop=should_stop)

        self._run(job, self._training_done, "Fine-tuning", stopped=self._training_stopped)

    def _on_progress(self, p) -> None:
        if isinstance(p, Stage):
            self.panel.show_stage(p.text)
        elif hasattr(p, "losses"):
            self.panel.curve.add(p.losses["total"])
            self.panel.show_count(
                p.step,
                p.total,
                f"Step {p.step}/{p.total} — loss "
                f"{p.losses['total']:.3f} — {time_left(p.eta_seconds)}",
            )
        else:
            done, total = p
            elapsed = time.monotonic() - self._started
            left = f" — {time_left(elapsed / done * (total - done))}" if done else ""
            self.panel.show_count(done, total, f"{self._label}: {done}/{total}{left}")

    def _training_done(self, result, *, cancelled: bool = False) -> None:
        self.project.add_run(
            result.run_dir,
            result.last_checkpoint,
            kind="fine-tune",
            settings={"step": result.step, "cancelled": cancelled},
        )
        self.panel.set_resumable(latest_resumable(self.project.runs_dir) is not None)
        self.panel.set_busy(False)
        word = "Stopped (checkpoint kept; Resume continues)" if cancelled else "Trained"
        self.panel.show_count(result.step, max(1, result.step), f"{word} at step {result.step}.")

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
        targets = {
            i.rel_path: i for i in project.images(tagged=True) if i.state in ("new", "proposed")
        }
        folder = project.data_folder()
        self.panel.show_stage("Proposing masks: loading the model…")

        def job(progress, should_stop):
            from mcc_engine.infer_folder import infer_folder

            written = 0

            def store(rel_path, pred):  # through the project: it keeps edited images as they are
                nonlocal written
                image = targets[rel_path]
                tagged = [k - 1 for k in image.labels if 1 <= k <= pred.cam.shape[0]]
                cam = pred.cam[tagged].max(axis=0) if tagged else pred.cam.max(axis=0)
                written += project.save_proposal(
                    image.id,
                    pred.mask,
                    score=pred.uncertainty(image.labels),
                    confidence=pred.confidence,
                    cam=np.clip(cam, 0, 1),
                )

            # infer_folder also writes each mask to `out`, as the CLI wants; here it is scratch.
            with tempfile.TemporaryDirectory(prefix="mcc-proposals-") as scratch:
                try:
                    infer_folder(
                        checkpoint=checkpoint,
                        data=folder,
                        out=str(Path(scratch) / "masks"),
                        only=set(targets),
                        progress=lambda i, n: progress((i, n)),
                        should_stop=should_stop,
                        on_result=store,
                    )
                except Cancelled:  # the proposals stored so far stay: each is its own save
                    raise Cancelled(f"stopped after {written} proposals", kept=written) from None
            return written

        self._run(job, self._proposals_done, "Proposing masks", stopped=self._proposals_done)

    def _proposals_done(self, written: int) -> None:
        self.panel.set_busy(False)
        self.panel.set_status(f"Proposed masks for {written} images.")
        self.proposals_done.emit(written)

    def start_suggestions(self, images: list[ImageInfo]) -> None:
        """Score images with the latest model; the scores are stored as suggestions, not tags."""
        self.before()
        checkpoint = self.project.latest_checkpoint()
        if checkpoint is None:
            self.no_work.emit("Suggest tags", "Fine-tune a model first: it suggests the tags.")
            return
        if not images:
            self.no_work.emit("Suggest tags", "Every image is tagged: there is nothing to suggest.")
            return
        root, ids = self.project.root, {i.rel_path: i.id for i in images}
        self.panel.show_stage("Suggesting tags: loading the model…")

        def job(progress, should_stop):
            from mcc_engine.suggest import suggest_folder

            return suggest_folder(
                checkpoint=checkpoint,
                root=root,
                images=list(ids),
                progress=lambda i, n: progress((i, n)),
                should_stop=should_stop,
            )

        def done(result) -> None:  # on the GUI thread, which owns the project's writes here
            scores = {ids[rel]: values for rel, values in result.scores.items()}
            self.project.store_suggestions(
                scores, model_classes=result.classes, checkpoint=str(checkpoint)
            )
            self.panel.set_busy(False)
            skipped = f"; {len(result.skipped)} could not be read" if result.skipped else ""
            self.panel.set_status(f"Suggested tags for {len(scores)} images{skipped}.")
            self.suggestions_done.emit(len(scores))

        self._run(job, done, "Suggesting tags", stopped=done)

    def export(self, settings: dict) -> None:
        """Export the dataset (VOC or COCO) in the background; `states` limits it to those."""
        self.before()
        settings = dict(settings)
        states = settings.pop("states", None)
        folder, masks = self.project.data_folder(), self.project.masks_dir
        if states:
            settings["only"] = {i.rel_path for i in self.project.images() if i.state in states}
        self.panel.show_stage("Exporting…")

        def job(progress, should_stop):
            return export_dataset(
                data=folder,
                masks=masks,
                progress=lambda i, n: progress((i, n)),
                should_stop=should_stop,
                **settings,
            )

        self._run(job, self._export_done, "Exporting", stopped=self._export_stopped)

    def _export_done(self, summary) -> None:
        self.panel.set_busy(False)
        self.panel.set_status("Export finished.")
        self.export_done.emit(summary)

    def _export_stopped(self, _kept) -> None:
        self.panel.set_status("Export stopped; nothing was written.")

    def cancel(self) -> None:
        """Ask the running worker to stop."""
        if self.worker is not None:
            self.worker.stop()

    def _on_failed(self, message: str) -> None:
        self.panel.set_busy(False)
        self.panel.progress.setRange(0, 1)
        self.panel.set_status("Failed; see the message.")
        self.failed.emit(message)

    def shutdown(self) -> None:
        """Stop and wait for the worker (closing the window), then record what it finished.

        Its finished signal is still queued and would arrive after the project closes, so the
        result (e.g. a stopped run's checkpoint, which Resume needs) is recorded here.
        """
        if self.worker is None:
            return
        self.worker.stop()
        self.worker.wait()
        if self.worker.ended and self.worker.was_cancelled:
            self._on_cancelled(self.worker.result)
        elif self.worker.ended:
            self._finished(self.worker.result)
        self._done = self._stopped = None
