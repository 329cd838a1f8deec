"""First fine-tune without backbone weights: download them, pick a local file, or go from scratch.

The finding, downloading and installing live in the engine (`mcc_engine.model.hub`); this file is
only the dialog around them.
"""

from __future__ import annotations

from pathlib import Path

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
from mcc_engine.errors import Cancelled
from mcc_engine.model.hub import (
    PROBE_TIMEOUT,
    SCRATCH_PRESETS,
    download_weights,
    install_local_weights,
    missing_weights,
)


class WeightsDialog(QDialog):
    """Offers the three ways on: download (with progress), a local file, or a from-scratch preset."""

    def __init__(self, parent: QWidget | None, *, preset: str, backbone: str) -> None:
        super().__init__(parent)
        self.backbone = backbone
        self.scratch_preset: str | None = None
        self.probe_timeout = PROBE_TIMEOUT
        self.worker: Worker | None = None
        self.setWindowTitle("ImageNet weights needed")
        intro = QLabel(
            f"The preset “{preset}” starts from the ImageNet weights of {backbone}. "
            "They are not on this computer yet."
        )
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
                return download_weights(
                    backbone, progress=progress, should_stop=should_stop, timeout=timeout
                )
            except Cancelled:
                return "stopped"

        self._run(job)

    def choose_file(self) -> None:
        """Ask for a timm state dict of the backbone and store it as its ImageNet weights."""
        name = QFileDialog.getOpenFileName(
            self,
            f"Weights of {self.backbone}",
            filter="Weights (*.pth *.pt *.bin *.safetensors);;All files (*)",
        )[0]
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
