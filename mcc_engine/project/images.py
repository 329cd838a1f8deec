"""The project's images: where each one is, its tags, state and uncertainty score."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from mcc_engine.data.images import image_size
from mcc_engine.errors import InputError
from mcc_engine.project.database import Database

STATES: Final = ("new", "proposed", "edited", "reviewed")


@dataclass(frozen=True)
class ImageInfo:
    """One image's row: where it is, its tags, state and uncertainty score.

    In lists, width and height are 0 until the image is first used: `Project.image(id)` reads them.
    """

    id: int
    rel_path: str
    width: int
    height: int
    state: str
    labels: tuple[int, ...]
    score: float | None
    updated_at: float | None
    updated_by: str | None


def content_hash(path: Path) -> str:
    """A BLAKE2b digest of the file's bytes: an image keeps its work when it is moved or renamed."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def labels_text(labels: Iterable[int]) -> str:
    """Class indices as stored: sorted, unique, comma-separated."""
    return ",".join(str(k) for k in sorted(set(labels)))


def _row_to_image(row) -> ImageInfo:
    labels = tuple(int(v) for v in row["labels"].split(",") if v)
    return ImageInfo(
        id=row["id"],
        rel_path=row["rel_path"],
        width=row["width"],
        height=row["height"],
        state=row["state"],
        labels=labels,
        score=row["score"],
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
    )


class Images:
    """Reads and edits image rows; sizes and content hashes are read on first use."""

    def __init__(self, db: Database, root: Path, *, readonly: bool, author: str) -> None:
        self.db, self.root, self.readonly, self.author = db, root, readonly, author

    def list(
        self,
        *,
        state: str | None = None,
        tag: int | None = None,
        search: str | None = None,
        tagged: bool | None = None,
        order: str = "name",
    ) -> list[ImageInfo]:
        """Images present on disk, filtered and sorted (uncertainty: highest score first)."""
        sql, args = "SELECT * FROM images WHERE present=1", []
        if state:
            sql += " AND state=?"
            args.append(state)
        if tagged is not None:
            sql += " AND labels != ''" if tagged else " AND labels = ''"
        if search:
            sql += " AND rel_path LIKE ?"
            args.append(f"%{search}%")
        sql += " ORDER BY " + (
            "score IS NULL, score DESC, rel_path" if order == "uncertainty" else "rel_path"
        )
        rows = [_row_to_image(r) for r in self.db.query(sql, tuple(args))]
        return [r for r in rows if tag is None or tag in r.labels]

    def count_untagged(self) -> int:
        """Images present on disk that carry no tag."""
        return self.db.query("SELECT COUNT(*) FROM images WHERE present=1 AND labels=''")[0][0]

    def get(self, image_id: int) -> ImageInfo:
        """One image by id (KeyError when there is none)."""
        rows = self.db.query("SELECT * FROM images WHERE id=?", (image_id,))
        if not rows:
            raise KeyError(image_id)
        image = _row_to_image(rows[0])
        if image.width == 0 or (not self.readonly and rows[0]["content_hash"] is None):
            path = self.root / image.rel_path
            width, height = image_size(path)
            image = replace(image, width=width, height=height)
            if not self.readonly:
                try:
                    digest, size = content_hash(path), path.stat().st_size
                except OSError as exc:
                    raise InputError(path, f"cannot read the image ({exc.strerror})") from None
                self.db.query(
                    "UPDATE images SET width=?, height=?, content_hash=?, file_size=? WHERE id=?",
                    (width, height, digest, size, image_id),
                )
        return image

    def touch(self, image_id: int, **values) -> None:
        """Set columns of an image's row, with who changed it and when."""
        values.update(updated_at=time.time(), updated_by=self.author)
        cols = ", ".join(f"{k}=?" for k in values)
        self.db.query(f"UPDATE images SET {cols} WHERE id=?", (*values.values(), image_id))

    def set_tags(self, image_id: int, labels: Iterable[int]) -> None:
        """Replace an image's tags (class indices)."""
        self.touch(image_id, labels=labels_text(labels))

    def set_scores(self, scores: dict[int, float]) -> None:
        """Store uncertainty scores by image id."""
        self.db.query_many(
            "UPDATE images SET score=? WHERE id=?", [(s, i) for i, s in scores.items()]
        )
