"""Undo and redo of tag changes, kept in the project: one step per change over many images.

The steps live in the project file, written in the same transaction as the tags themselves, so
an undo works after the tagging view was closed, after a restart and after a kill, and the
window holds no state of its own. Steps undone are the newest ones; a new change drops them
(the redo branch), as the mask history does.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Final

from mcc_engine.project.database import Database
from mcc_engine.project.images import labels_text

STEPS: Final = 100  # tag changes kept for undo; each holds one row per image it changed


class TagHistory:
    """Changes images' tags as undoable steps; each call returns the images whose tags changed,
    with their new tags (class indices)."""

    def __init__(self, db: Database, *, author: str) -> None:
        self.db, self.author = db, author

    def change(self, labels: dict[int, Iterable[int]]) -> dict[int, tuple[int, ...]]:
        """Give images new tags (class indices) in one step."""
        wanted = {int(i): labels_text(v) for i, v in labels.items()}
        if not wanted:
            return {}
        with self.db.transaction():
            now = self._labels(wanted)
            changes = [
                (i, now[i], after) for i, after in wanted.items() if now.get(i, after) != after
            ]
            if not changes:
                return {}
            self.db.query(
                "DELETE FROM tag_changes WHERE step IN (SELECT step FROM tag_steps WHERE undone=1)"
            )
            self.db.query("DELETE FROM tag_steps WHERE undone=1")
            step = self.db.query("SELECT COALESCE(MAX(step), 0) + 1 FROM tag_steps")[0][0]
            self.db.query(
                "INSERT INTO tag_steps (step, undone, created_at) VALUES (?, 0, ?)",
                (step, time.time()),
            )
            self.db.query_many(
                "INSERT INTO tag_changes (step, image_id, before, after) VALUES (?, ?, ?, ?)",
                [(step, i, before, after) for i, before, after in changes],
            )
            self._write({i: after for i, _, after in changes})
            self.db.query("DELETE FROM tag_changes WHERE step <= ?", (step - STEPS,))
            self.db.query("DELETE FROM tag_steps WHERE step <= ?", (step - STEPS,))
        return {i: _labels(after) for i, _, after in changes}

    def undo(self) -> dict[int, tuple[int, ...]]:
        """Take back the last step (nothing changes, and {} returns, when there is none)."""
        return self._move(undo=True)

    def redo(self) -> dict[int, tuple[int, ...]]:
        """Make the last undone step again."""
        return self._move(undo=False)

    def can_undo(self) -> bool:
        """Whether a step can be taken back."""
        return bool(self.db.query("SELECT 1 FROM tag_steps WHERE undone=0 LIMIT 1"))

    def can_redo(self) -> bool:
        """Whether an undone step can be made again."""
        return bool(self.db.query("SELECT 1 FROM tag_steps WHERE undone=1 LIMIT 1"))

    def _move(self, *, undo: bool) -> dict[int, tuple[int, ...]]:
        if undo:
            pick = "SELECT MAX(step) FROM tag_steps WHERE undone=0"
        else:
            pick = "SELECT MIN(step) FROM tag_steps WHERE undone=1"
        with self.db.transaction():
            step = self.db.query(pick)[0][0]
            if step is None:
                return {}
            rows = self.db.query(
                "SELECT image_id, before, after FROM tag_changes WHERE step=?", (step,)
            )
            source, target = ("after", "before") if undo else ("before", "after")
            now = self._labels({r["image_id"]: None for r in rows})
            # An image whose tags changed outside the history since keeps them: never lose work.
            moved = {r["image_id"]: r[target] for r in rows if now.get(r["image_id"]) == r[source]}
            self._write(moved)
            self.db.query("UPDATE tag_steps SET undone=? WHERE step=?", (int(undo), step))
        return {i: _labels(text) for i, text in moved.items()}

    def _labels(self, ids: dict[int, object]) -> dict[int, str]:
        found: dict[int, str] = {}
        keys = list(ids)
        for start in range(0, len(keys), 500):  # SQLite caps the parameters of one statement
            chunk = keys[start : start + 500]
            rows = self.db.query(
                f"SELECT id, labels FROM images WHERE id IN ({','.join('?' * len(chunk))})",
                tuple(chunk),
            )
            found.update({r["id"]: r["labels"] for r in rows})
        return found

    def _write(self, labels: dict[int, str]) -> None:
        now = time.time()
        self.db.query_many(
            "UPDATE images SET labels=?, updated_at=?, updated_by=? WHERE id=?",
            [(text, now, self.author, i) for i, text in labels.items()],
        )


def _labels(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v)
