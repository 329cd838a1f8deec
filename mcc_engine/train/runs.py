"""Run folders: config.json, log.csv and atomically written checkpoints."""

from __future__ import annotations

import csv
import io
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch

import mcc_engine
from mcc_engine.atomic import atomic_path, atomic_write_text

LOG_COLUMNS = (
    "step",
    "lr",
    "total",
    "cls",
    "cls_aux",
    "aff",
    "mcc",
    "seg",
    "reg",
    "cam_mask",
    "positive_locals",
    "seconds",
)


def versions() -> dict[str, str]:
    """Versions that affect results, recorded in every run."""
    return {
        "mcc_annotate": mcc_engine.__version__,
        "torch": str(torch.__version__),
        "timm": timm.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def write_config(run_dir: Path, settings: dict[str, Any]) -> None:
    """config.json: every setting, the class list and versions."""
    atomic_write_text(run_dir / "config.json", json.dumps(settings, indent=2, sort_keys=True))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write a checkpoint so a crash leaves the previous one or the new one, never a part."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


class TrainLog:
    """log.csv: one row per logged step; a resumed run drops rows past its checkpoint."""

    def __init__(self, path: Path, *, resume_step: int | None = None) -> None:
        self.path = path
        rows = []
        if resume_step is not None and path.is_file():
            with open(path, newline="", encoding="utf-8") as handle:
                rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= resume_step]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, LOG_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(path, buffer.getvalue())

    def append(self, row: dict[str, float]) -> None:
        """Add one row and flush it to disk."""
        with open(self.path, "a", newline="", encoding="utf-8") as handle:
            csv.DictWriter(
                handle, LOG_COLUMNS, lineterminator="\n", extrasaction="ignore"
            ).writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
