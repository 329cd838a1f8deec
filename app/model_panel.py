"""The model panel: preset, iterations, device, fine-tune with progress and loss curve, propose."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.weights_dialog import ensure_backbone_weights
from mcc_engine.train.config import PRESETS


class LossCurve(QWidget):
    """A small live plot of the training loss."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[float] = []
        self.setMinimumHeight(90)

    def add(self, value: float) -> None:
        """Append one loss value and repaint."""
        self.values.append(value)
        self.update()

    def clear(self) -> None:
        """Start a new curve."""
        self.values.clear()
        self.update()

    def set_values(self, values: list[float]) -> None:
        """Show these loss values (a resumed run's log) and go on from them."""
        self.values = list(values)
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        if len(self.values) < 2:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "loss curve")
            return
        smooth, level = [], self.values[0]
        for v in self.values:  # an exponential moving average shows the trend through the noise
            level = 0.9 * level + 0.1 * v
            smooth.append(level)
        low, high = min(self.values), max(self.values)
        span = (high - low) or 1.0
        w, h = self.width() - 8, self.height() - 20

        def line(values):
            return [
                QPointF(4 + w * i / (len(values) - 1), 16 + h * (1 - (v - low) / span))
                for i, v in enumerate(values)
            ]

        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(66, 133, 244, 90), 1))
        painter.drawPolyline(line(self.values))
        painter.setPen(QPen(QColor(66, 133, 244), 2))
        painter.drawPolyline(line(smooth))
        painter.setPen(self.palette().placeholderText().color())
        painter.drawText(
            self.rect().adjusted(4, 1, -4, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
            f"loss {smooth[-1]:.3f} (range {low:.2f}–{high:.2f})",
        )


class ModelPanel(QWidget):
    """Settings and the two big buttons: Fine-tune and Propose masks."""

    fine_tune = Signal()
    resume = Signal()
    cancel = Signal()
    propose = Signal()
    status_changed = Signal(str)  # every status line shown (the window mirrors it)

    def __init__(self, device_name: str) -> None:
        super().__init__()
        form = QFormLayout()
        self.preset = QComboBox()
        self.preset.addItems([p for p in PRESETS if p != "tiny"])
        self.preset.setCurrentText("demo")
        self.iters = QSpinBox()
        self.iters.setRange(1, 100000)
        self.iters.setValue(PRESETS["demo"]["iters"])
        self.preset.currentTextChanged.connect(
            lambda name: self.iters.setValue(PRESETS[name]["iters"])
        )
        form.addRow("Preset", self.preset)
        form.addRow("Iterations", self.iters)
        self.device = QLabel(device_name)
        form.addRow("Device", self.device)
        self.train_button = QPushButton("Fine-tune")
        self.train_button.setToolTip("Train on the project's tags and corrected masks")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the last fine-tune that was stopped before its end")
        self.resume_button.setEnabled(False)
        self.resumable = False
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.propose_button = QPushButton("Propose masks")
        self.propose_button.setToolTip("Propose masks for every image nobody edited")
        self.progress = QProgressBar()
        self.status = QLabel("No model trained yet")
        self.status.setWordWrap(True)
        self.curve = LossCurve()
        buttons = QHBoxLayout()
        for b in (self.train_button, self.resume_button, self.cancel_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.curve)
        layout.addWidget(self.propose_button)
        layout.addStretch(1)
        self.train_button.clicked.connect(self._fine_tune_clicked)
        self.resume_button.clicked.connect(self.resume)
        self.cancel_button.clicked.connect(self.cancel)
        self.propose_button.clicked.connect(self.propose)

    def _fine_tune_clicked(self) -> None:
        if ensure_backbone_weights(self, self.preset):  # ImageNet weights missing: ask how to go on
            self.fine_tune.emit()

    def set_device(self, name: str) -> None:
        """Show the device training will use (the CUDA GPU's name, or CPU)."""
        self.device.setText(name)

    def set_busy(self, busy: bool) -> None:
        """Enable Cancel while work runs, the other buttons otherwise (Resume: when it can)."""
        for b in (self.train_button, self.propose_button):
            b.setEnabled(not busy)
        self.resume_button.setEnabled(not busy and self.resumable)
        self.cancel_button.setEnabled(busy)

    def set_resumable(self, resumable: bool) -> None:
        """Whether a stopped run waits to be resumed."""
        self.resumable = resumable
        self.resume_button.setEnabled(resumable and self.train_button.isEnabled())

    def set_status(self, text: str) -> None:
        """Show a status line."""
        self.status.setText(text)
        self.status_changed.emit(text)

    def show_stage(self, text: str) -> None:
        """A stage without a count yet (loading, building the model): a busy bar and its name."""
        self.progress.setRange(0, 0)
        self.set_status(text)

    def show_count(self, done: int, total: int, text: str) -> None:
        """A counted stage: the bar at done / total and a status line."""
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.set_status(text)
