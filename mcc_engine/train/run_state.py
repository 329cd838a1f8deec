"""What a run folder says about itself, read without torch (the window asks at start-up): its
logged losses, and whether it stopped before its last iteration and can be resumed."""

from __future__ import annotations

import csv
import json
from pathlib import Path


def read_log(run_dir: str | Path) -> list[dict[str, float]]:
    """The rows of a run's log.csv as numbers (empty when there is no log yet)."""
    path = Path(run_dir) / "log.csv"
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError):
        return []
    numbers = []
    for row in rows:
        if None in row.values() or None in row:  # a row cut off by a kill: the rows before stand
            break
        try:
            numbers.append({k: float(v) for k, v in row.items() if v != ""})
        except ValueError:
            break
    return numbers


def can_resume(run_dir: str | Path) -> bool:
    """Whether a run has a checkpoint and stopped (cancelled, killed) before its last step."""
    run_dir = Path(run_dir)
    if not (run_dir / "last.pt").is_file():
        return False
    try:
        iters = int(
            json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["train"]["iters"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return True  # a checkpoint without readable settings: let resume say what is wrong
    rows = read_log(run_dir)
    return not rows or rows[-1].get("step", 0) < iters


def latest_resumable(runs_dir: str | Path) -> Path | None:
    """The newest run folder (run-YYYYmmdd-HHMMSS sorts by time) if it can be resumed."""
    runs = sorted(Path(runs_dir).glob("run-*")) if Path(runs_dir).is_dir() else []
    return runs[-1] if runs and can_resume(runs[-1]) else None
