"""The training device's name (CUDA GPU or CPU), found without loading torch into the window.

Loading torch takes seconds and holds the interpreter lock for hundreds of milliseconds at a time,
so a window that loads it in a thread stutters while it opens. Until the user starts work that
needs torch, a separate process answers the question; once torch is loaded, it is asked directly.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QProcess, Signal


def device_name() -> str:
    """The label of the device `auto` picks (imports torch)."""
    from mcc_engine.train.device import device_label, pick_device

    return device_label(pick_device("auto"))


def probe_command() -> tuple[str, list[str]]:
    """How to run `mcc-annotate --device-probe` from this interpreter or frozen app."""
    if getattr(sys, "frozen", False):
        return sys.executable, ["--device-probe"]
    return sys.executable, ["-m", "app.main", "--device-probe"]


class DeviceProbe(QObject):
    """Emits `found(label)` once the device is known."""

    found = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process: QProcess | None = None

    def start(self, *, separate: bool | None = None) -> None:
        """Ask in a separate process unless torch is loaded already (or `separate` says)."""
        if not (("torch" not in sys.modules) if separate is None else separate):
            self.found.emit(device_name())
            return
        self.process = QProcess(self)
        self.process.finished.connect(self._finished)
        program, args = probe_command()
        self.process.start(program, args)

    def _finished(self, code: int, _status) -> None:
        text = bytes(self.process.readAllStandardOutput()).decode(errors="replace").strip()
        lines = text.splitlines()
        self.found.emit(
            lines[-1].strip() if code == 0 and lines else "unknown (torch did not load)"
        )

    def stop(self) -> None:
        """End the probe process if it still runs (closing the window)."""
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()
            self.process.waitForFinished(3000)
