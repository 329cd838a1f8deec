"""Masks and their history: every saved mask is a revision (its PNG and the image's state), and the
mask file always holds the current one.

An edit adds a revision after the current one (dropping those an undo left ahead of it); undo and
redo move the image's pointer (`rev_pos`) and rewrite the file from the stored PNG, never adding a
revision. Each change commits the database first, marks the image's file as pending, renames the
new file into place, then clears the mark: a kill at any moment leaves a pending mark at worst,
and opening the project rewrites such files from their revision (`repair`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np

from mcc_engine.atomic import atomic_path
from mcc_engine.data.masks import decode_mask, encode_mask, read_mask
from mcc_engine.errors import InputError
from mcc_engine.project.database import Database
from mcc_engine.project.history import HistoryInfo, Revision
from mcc_engine.project.images import STATES, Images
from mcc_engine.project.layout import Layout

HISTORY: Final = 100  # revisions kept per image (so 99 undo steps)


class StaleHistory(Exception):
    """An editor's view of an image's history is out of date: another writer changed it."""


class Revisions:
    """Reads and changes masks through their history."""

    def __init__(self, db: Database, layout: Layout, images: Images) -> None:
        self.db, self.layout, self.images = db, layout, images
        self.limit = HISTORY

    # -- reading ------------------------------------------------------------------------------
    def load_mask(self, image_id: int) -> np.ndarray | None:
        """The image's current mask, or None."""
        path = self.layout.mask_path(self.images.get(image_id).rel_path)
        return read_mask(path) if path.is_file() else None

    def history(self, image_id: int) -> HistoryInfo:
        """The image's stored revisions, the current one and its state."""
        with self.db.lock:
            rows = self.db.query(
                "SELECT rel_path, rev_pos, state FROM images WHERE id=?", (image_id,)
            )
            if not rows:
                raise KeyError(image_id)
            revisions = self.db.query(
                "SELECT seq, state, png IS NOT NULL AS has_mask FROM revisions WHERE image_id=? "
                "ORDER BY seq",
                (image_id,),
            )
            has_mask = self.layout.mask_path(rows[0]["rel_path"]).is_file()
        return HistoryInfo(
            image_id=image_id,
            revisions=tuple(Revision(r["seq"], r["state"], bool(r["has_mask"])) for r in revisions),
            pos=rows[0]["rev_pos"],
            state=rows[0]["state"],
            has_mask=has_mask,
            limit=self.limit,
        )

    def revision_mask(self, image_id: int, seq: int) -> np.ndarray | None:
        """The mask of revision `seq` (None: the image had no mask then); KeyError if not kept."""
        rows = self.db.query(
            "SELECT png FROM revisions WHERE image_id=? AND seq=?", (image_id, seq)
        )
        if not rows:
            raise KeyError(seq)
        png = rows[0]["png"]
        name = f"revision {seq} of {self.images.get(image_id).rel_path}"
        return None if png is None else decode_mask(png, name=name)

    def can_step(self, image_id: int, delta: int) -> bool:
        """Whether the revision `delta` steps from the current one is kept."""
        return bool(
            self.db.query(
                "SELECT 1 FROM revisions r JOIN images i ON i.id=r.image_id "
                "WHERE r.image_id=? AND r.seq=i.rev_pos+?",
                (image_id, delta),
            )
        )

    # -- changing -----------------------------------------------------------------------------
    def push(
        self,
        image_id: int,
        mask: np.ndarray,
        *,
        state: str = "edited",
        expect_pos: int | None = None,
        expect_state: str | None = None,
    ) -> int:
        """Store a mask as the revision after the current one; returns its number.

        With `expect_pos` / `expect_state` (what the caller believes is current), a project that
        differs raises StaleHistory and changes nothing.
        """
        if state not in STATES:
            raise ValueError(state)
        image = self.images.get(image_id)
        path = self.layout.mask_path(image.rel_path)
        if mask.shape != (image.height, image.width):
            raise InputError(path, f"mask shape {mask.shape} differs from the image's")
        png = encode_mask(mask)  # once, for the file and the revision: big masks are slow
        with disk_errors(path), self.db.lock:
            with atomic_path(path) as tmp:
                tmp.write_bytes(png)
                with self.db.transaction():
                    row = self.db.query(
                        "SELECT rev_pos, state FROM images WHERE id=?", (image_id,)
                    )[0]
                    pos = row["rev_pos"]
                    if (expect_pos is not None and expect_pos != pos) or (
                        expect_state is not None and expect_state != row["state"]
                    ):
                        raise StaleHistory(f"{path}: history changed ({pos}, {row['state']})")
                    self._keep_first(image_id, pos, row["state"], path)
                    seq = pos + 1
                    self.db.query(
                        "DELETE FROM revisions WHERE image_id=? AND (seq>=? OR seq<=?)",
                        (image_id, seq, seq - self.limit),
                    )
                    self.db.query(
                        "INSERT INTO revisions VALUES (?, ?, ?, ?, ?)",
                        (image_id, seq, png, state, time.time()),
                    )
                    self.images.touch(image_id, rev_pos=seq, state=state, mask_pending=1)
            self._settled(image_id)
        return seq

    def _keep_first(self, image_id: int, pos: int, state: str, path: Path) -> None:
        """Before an image's first edit, keep what was there (a proposal, or no mask) as is."""
        if not self.db.query("SELECT 1 FROM revisions WHERE image_id=? LIMIT 1", (image_id,)):
            before = path.read_bytes() if path.is_file() else None
            self.db.query(
                "INSERT INTO revisions VALUES (?, ?, ?, ?, ?)",
                (image_id, pos, before, state, time.time()),
            )

    def move_to(self, image_id: int, seq: int) -> None:
        """Make revision `seq` current: the file gets its mask, the image its state."""
        path = self.layout.mask_path(self.images.get(image_id).rel_path)
        with disk_errors(path), self.db.lock:
            rows = self.db.query(
                "SELECT png, state FROM revisions WHERE image_id=? AND seq=?", (image_id, seq)
            )
            if not rows:
                raise StaleHistory(f"{path}: revision {seq} is not kept")
            png, state = rows[0]["png"], rows[0]["state"]
            if png is None:
                with self.db.transaction():
                    self.images.touch(image_id, rev_pos=seq, state=state, mask_pending=1)
                path.unlink(missing_ok=True)
            else:
                with atomic_path(path) as tmp:
                    tmp.write_bytes(png)
                    with self.db.transaction():
                        self.images.touch(image_id, rev_pos=seq, state=state, mask_pending=1)
            self._settled(image_id)

    def step(self, image_id: int, delta: int) -> np.ndarray | None:
        """Move `delta` revisions back (-1) or forward (+1); the mask now current (None when no
        such revision is kept; an image without a mask file then shows as all unlabelled)."""
        with self.db.lock:
            if not self.can_step(image_id, delta):
                return None
            pos = self.db.query("SELECT rev_pos FROM images WHERE id=?", (image_id,))[0][0]
            self.move_to(image_id, pos + delta)
        mask = self.load_mask(image_id)
        if mask is None:
            image = self.images.get(image_id)
            mask = np.full((image.height, image.width), 255, np.uint8)
        return mask

    def set_state(self, image_id: int, state: str) -> None:
        """Give the image a state; it is the current revision's too (undo back to it restores it)."""
        if state not in STATES:
            raise ValueError(state)
        with self.db.transaction():
            self.images.touch(image_id, state=state)
            self.db.query(
                "UPDATE revisions SET state=? WHERE image_id=? AND "
                "seq=(SELECT rev_pos FROM images WHERE id=?)",
                (state, image_id, image_id),
            )

    def _settled(self, image_id: int) -> None:
        self.db.query("UPDATE images SET mask_pending=0 WHERE id=?", (image_id,))

    # -- after a crash ------------------------------------------------------------------------
    def repair(self) -> list[str]:
        """Rewrite every pending mask file that differs from its current revision (the revision
        wins: the database committed it before the file was renamed); the images' paths."""
        repaired = []
        rows = self.db.query(
            "SELECT i.id, i.rel_path, r.seq IS NOT NULL AS kept, r.png FROM images i "
            "LEFT JOIN revisions r ON r.image_id=i.id AND r.seq=i.rev_pos WHERE i.mask_pending=1"
        )
        for row in rows:
            path = self.layout.mask_path(row["rel_path"])
            if row["kept"]:
                on_disk = path.read_bytes() if path.is_file() else None
                if on_disk != row["png"]:
                    with disk_errors(path):
                        if row["png"] is None:
                            path.unlink()
                        else:
                            with atomic_path(path) as tmp:
                                tmp.write_bytes(row["png"])
                    repaired.append(row["rel_path"])
            self._settled(row["id"])
        return sorted(repaired)


@contextlib.contextmanager
def disk_errors(path: Path) -> Iterator[None]:
    """Turn a full or read-only disk into one clear error naming the mask."""
    try:
        yield
    except (OSError, sqlite3.OperationalError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(
            path, f"not saved, disk full or not writable ({reason}); the previous version is kept"
        ) from None
