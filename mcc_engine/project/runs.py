"""Fine-tuning runs of a project and their checkpoints."""

from __future__ import annotations

import json
import time
from pathlib import Path

from mcc_engine.project.database import Database


class Runs:
    """Records runs; finds the newest checkpoint."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self, run_dir: str | Path, checkpoint: str | Path, *, kind: str, settings: dict
    ) -> None:
        """Record a training run and its checkpoint."""
        self.db.query(
            "INSERT INTO runs (run_dir, checkpoint, kind, settings, created_at) VALUES (?,?,?,?,?)",
            (str(run_dir), str(checkpoint), kind, json.dumps(settings), time.time()),
        )

    def latest_checkpoint(self) -> Path | None:
        """The newest recorded checkpoint that still exists."""
        for row in self.db.query("SELECT checkpoint FROM runs ORDER BY id DESC"):
            if Path(row[0]).is_file():
                return Path(row[0])
        return None
