"""First fine-tune without backbone weights: download them, pick a local file, or go from scratch.

The engine loads ImageNet weights through timm, which reads them from the Hugging Face hub cache.
So both ways of getting weights end in that cache: a download puts the hub's file there, and a
local timm state dict is checked against the backbone and stored there in the same form. Later
runs (the app's and `mcc train --weights imagenet`) then find the weights without a network.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.workers import Worker
from mcc_engine.errors import Cancelled, InputError
from mcc_engine.train.config import PRESETS

PROBE_TIMEOUT: Final = 5.0  # seconds; a closed network must fail fast, not after the hub's retries
WEIGHT_FILES: Final = ("model.safetensors", "pytorch_model.bin")  # the order timm tries them
SCRATCH_PRESETS: Final = tuple(
    n for n, p in PRESETS.items() if p["weights"] == "none" and n != "tiny"
)


def _hub_repo(backbone: str) -> tuple[str, str | None] | None:
    import timm

    cfg = timm.models.get_pretrained_cfg(backbone)
    if cfg is None or not cfg.hf_hub_id:
        return None
    repo, _, revision = cfg.hf_hub_id.partition("@")
    return repo, revision or None


def cached_weights(backbone: str) -> Path | None:
    """The backbone's ImageNet weights file in the hub cache, or None when there is none."""
    from huggingface_hub import try_to_load_from_cache

    source = _hub_repo(backbone)
    if source is None:
        return None
    for filename in WEIGHT_FILES:
        found = try_to_load_from_cache(source[0], filename, revision=source[1])
        if isinstance(found, str):
            return Path(found)
    return None


def missing_weights(preset: str) -> str | None:
    """The backbone whose ImageNet weights `preset` needs and the cache lacks, else None."""
    settings = PRESETS.get(preset, {})
    if settings.get("weights") != "imagenet" or cached_weights(settings["backbone"]):
        return None
    return settings["backbone"]


def hub_reachable(timeout: float = PROBE_TIMEOUT) -> bool:
    """One HEAD request to the hub with the hub's own HTTP client; False when offline or slow."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    answered: list[bool] = []

    def probe() -> None:
        try:
            get_session().head(constants.ENDPOINT, timeout=timeout)
            answered.append(True)
        except Exception:  # DNS, refused, TLS or timeout: all mean "cannot download now"
            answered.append(False)

    # A daemon thread bounds the wait even where name resolution ignores the timeout.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return bool(answered and answered[0])


def _progress_bar_class(progress: Callable, should_stop: Callable[[], bool]):
    from tqdm import tqdm

    class Reporter(tqdm):
        """The hub's progress bar, turned into progress callbacks and a place to cancel."""

        def __init__(self, *args, **kwargs) -> None:
            kwargs["file"] = io.StringIO()  # no console in a windowed app
            kwargs.pop("name", None)
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            result = super().update(n)
            # Xet downloads add a bar of network bytes with a guessed total; the file bar is enough.
            if not str(self.desc).endswith("downloading bytes"):
                progress((int(self.n), int(self.total or 0)))
            if should_stop():
                raise Cancelled()
            return result

    return Reporter


def download_weights(backbone: str, *, progress: Callable, should_stop: Callable[[], bool],
                     timeout: float = PROBE_TIMEOUT) -> Path | None:  # fmt: skip
    """Download the backbone's ImageNet weights into the hub cache; None when offline."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    source = _hub_repo(backbone)
    if source is None:
        raise InputError(None, f"timm has no downloadable ImageNet weights for {backbone}")
    if constants.HF_HUB_OFFLINE or not hub_reachable(timeout):
        return None
    bar = _progress_bar_class(progress, should_stop)
    for filename in WEIGHT_FILES:
        try:
            return Path(hf_hub_download(source[0], filename, revision=source[1],
                                        etag_timeout=timeout, tqdm_class=bar))  # fmt: skip
        except EntryNotFoundError:
            continue
    raise InputError(None, f"the hub has no weights file for {backbone}")


def install_local_weights(backbone: str, path: str | Path) -> Path:
    """Check a timm state dict against the backbone and store it where timm looks for weights."""
    import safetensors.torch
    import timm
    from huggingface_hub import constants

    from mcc_engine.atomic import atomic_path, atomic_write_text
    from mcc_engine.model.weights import read_checkpoint, state_dict_of

    path = Path(path)
    state = state_dict_of(read_checkpoint(path))
    own = timm.create_model(backbone, pretrained=False).state_dict()
    body = {k: v for k, v in state.items() if not k.startswith("head.")}
    wanted = {k for k in own if not k.startswith("head.")}
    if set(body) != wanted:
        missing = sorted(wanted - set(body)) or sorted(set(body) - wanted)
        raise InputError(path, f"not a timm state dict of {backbone} (e.g. {missing[0]})")
    for key, value in body.items():
        if value.shape != own[key].shape and key != "pos_embed":  # timm resizes pos_embed itself
            raise InputError(
                path, f"not weights of {backbone}: {key} has shape {tuple(value.shape)}"
            )
    source = _hub_repo(backbone)
    if source is None:
        raise InputError(None, f"timm keeps no weights cache for {backbone}; use --weights FILE")
    repo, revision = source
    # The hub cache layout: refs/<revision> names a snapshot folder that holds the files.
    folder = Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}"
    snapshot = hashlib.sha1(path.read_bytes()).hexdigest()
    target = folder / "snapshots" / snapshot / WEIGHT_FILES[0]
    tensors = {k: v.detach().contiguous().clone() for k, v in state.items()}
    with atomic_path(target) as tmp:
        safetensors.torch.save_file(tensors, str(tmp))
    atomic_write_text(folder / "refs" / (revision or "main"), snapshot)
    return target


class WeightsDialog(QDialog):
    """Offers the three ways on: download (with progress), a local file, or a from-scratch preset."""

    def __init__(self, parent: QWidget | None, *, preset: str, backbone: str) -> None:
        super().__init__(parent)
        self.backbone = backbone
        self.scratch_preset: str | None = None
        self.probe_timeout = PROBE_TIMEOUT
        self.worker: Worker | None = None
        self.setWindowTitle("ImageNet weights needed")
        intro = QLabel(f"The preset “{preset}” starts from the ImageNet weights of {backbone}. "
                       "They are not on this computer yet.")  # fmt: skip
        intro.setWordWrap(True)
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("From the Hugging Face hub, into timm's weights cache")
        self.file_button = QPushButton("Choose a local file…")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.scratch = QComboBox()
        self.scratch.addItems(SCRATCH_PRESETS)
        self.scratch_button = QPushButton("Train from scratch")
        self.cancel_button = QPushButton("Cancel")
        row = QHBoxLayout()
        row.addWidget(self.download_button)
        row.addWidget(self.file_button)
        scratch_row = QHBoxLayout()
        scratch_row.addWidget(QLabel("Or, without weights, the preset"))
        scratch_row.addWidget(self.scratch)
        scratch_row.addWidget(self.scratch_button)
        layout = QVBoxLayout(self)
        for item in (intro, row, self.progress, self.status, scratch_row, self.cancel_button):
            (layout.addLayout if isinstance(item, QHBoxLayout) else layout.addWidget)(item)
        self.download_button.clicked.connect(self.start_download)
        self.file_button.clicked.connect(self.choose_file)
        self.scratch_button.clicked.connect(self._use_scratch)
        self.cancel_button.clicked.connect(self.reject)
        self.setMinimumWidth(480)

    def start_download(self) -> None:
        """Check the connection, then download with progress in a worker thread."""
        self.status.setText("Connecting to the Hugging Face hub…")
        backbone, timeout = self.backbone, self.probe_timeout

        def job(progress, should_stop):
            try:
                return download_weights(backbone, progress=progress, should_stop=should_stop,
                                        timeout=timeout)  # fmt: skip
            except Cancelled:
                return "stopped"

        self._run(job)

    def choose_file(self) -> None:
        """Ask for a timm state dict of the backbone and store it as its ImageNet weights."""
        name = QFileDialog.getOpenFileName(self, f"Weights of {self.backbone}",
                                           filter="Weights (*.pth *.pt *.bin *.safetensors);;All files (*)")[0]  # fmt: skip
        if not name:
            return
        self.status.setText(f"Checking {Path(name).name}…")
        backbone = self.backbone
        self._run(lambda progress, should_stop: install_local_weights(backbone, name))

    def _run(self, job) -> None:
        self._set_busy(True)
        self.worker = Worker(job)
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.start()

    def _set_busy(self, busy: bool) -> None:
        for button in (self.download_button, self.file_button, self.scratch_button):
            button.setEnabled(not busy)
        self.cancel_button.setText("Stop" if busy else "Cancel")

    def _on_progress(self, value) -> None:
        done, total = value
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.status.setText(f"Downloading {done / 1e6:.1f} of {total / 1e6:.1f} MB")

    def _on_finished(self, result) -> None:
        self._set_busy(False)
        if result is None:
            self.status.setText(
                f"No internet connection: the weights of {self.backbone} cannot be downloaded now. "
                "Choose a local file with these weights, or train from scratch with the "
                f"{' or '.join(SCRATCH_PRESETS)} preset (no download needed; the demo works too)."
            )
            self.scratch_button.setDefault(True)
            self.scratch_button.setFocus()
            return
        if result == "stopped":
            self.status.setText("Download stopped.")
            return
        self.status.setText(f"Weights ready: {result}")
        self.accept()

    def _on_failed(self, message: str) -> None:
        self._set_busy(False)
        self.status.setText(message)

    def _use_scratch(self) -> None:
        self.scratch_preset = self.scratch.currentText()
        self.accept()

    def reject(self) -> None:
        """Cancel: stop a running download first (the hub keeps partial files aside)."""
        if self.worker is not None and self.worker.thread.isRunning():
            self.worker.stop()
            self.status.setText("Stopping…")
            return
        super().reject()

    def done(self, result: int) -> None:
        if self.worker is not None:
            self.worker.wait()
        super().done(result)


def ensure_backbone_weights(parent: QWidget | None, preset_box: QComboBox) -> bool:
    """Before a fine-tune: True to go on (weights there, or fetched, or a from-scratch preset)."""
    backbone = missing_weights(preset_box.currentText())
    if backbone is None:
        return True
    dialog = WeightsDialog(parent, preset=preset_box.currentText(), backbone=backbone)
    if not dialog.exec():
        return False
    if dialog.scratch_preset:
        preset_box.setCurrentText(dialog.scratch_preset)
    return True
