"""Bring a project's image rows in line with its data folder: images added, removed or moved."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from mcc_engine.data.folder import DataFolder, Sample, load_data_folder
from mcc_engine.data.masks import mask_rel_path
from mcc_engine.project.classes import Classes, default_color
from mcc_engine.project.database import Database
from mcc_engine.project.images import content_hash, labels_text
from mcc_engine.project.layout import HEAT_MAP_KINDS, Layout


@dataclass
class ReconcileReport:
    """What opening the project found: images added on disk since the last open, images gone,
    images moved (old path, new path), and mask files repaired to match their history."""

    added: list[str]
    removed: list[str]
    moved: list[tuple[str, str]] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # image paths whose mask file was rewritten

    def describe(self) -> str:
        """One line for the window's status bar; empty when there is nothing to say."""
        parts = []
        if self.repaired:
            parts.append(
                f"{_count(self.repaired, 'mask')} restored to the last saved edit after an "
                f"interrupted save ({', '.join(self.repaired[:3])}{'…' if len(self.repaired) > 3 else ''})"
            )
        for items, what in ((self.added, "new"), (self.removed, "missing"), (self.moved, "moved")):
            if items:
                parts.append(f"{_count(items, 'image')} {what}")
        return "; ".join(parts)


def _count(items: list, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def reconcile(db: Database, layout: Layout, classes: Classes, *, fresh: bool) -> ReconcileReport:
    """Add rows for new images, mark missing ones, follow moved ones by content hash.

    Images without tags are the project's too (they are tagged in the app); an image the tags
    file does not list stays in the project as long as its file is there.
    """
    folder = load_data_folder(layout.root, allow_untagged=True)
    with db.transaction():
        if fresh:
            for k, name in enumerate(folder.classes, start=1):
                classes.insert(k, name, default_color(k))
        known = {
            r["rel_path"]: r["present"] for r in db.query("SELECT rel_path, present FROM images")
        }
        on_disk = {s.rel_path: s for s in folder.samples}
        for rel, present in known.items():  # e.g. left out of a tags file saved without it
            if present and rel not in on_disk and (layout.root / rel).is_file():
                on_disk[rel] = Sample(rel, ())
        masks = _files_under(layout.masks_dir)  # one walk, not a file check per image
        added = sorted(set(on_disk) - {p for p, present in known.items() if present})
        removed = sorted(p for p, present in known.items() if present and p not in on_disk)
        index = {c.name.casefold(): c.index for c in classes.all()}
        for rel in added:
            if rel in known:
                db.query("UPDATE images SET present=1 WHERE rel_path=?", (rel,))
                continue
            # Sizes are read when an image is first used: opening 10,000 images stays fast.
            labels = on_disk[rel].labels if fresh else _map_labels(folder, on_disk[rel], index)
            state = "edited" if mask_rel_path(rel) in masks else "new"
            db.query(
                "INSERT INTO images (rel_path, width, height, labels, state) VALUES (?,0,0,?,?)",
                (rel, labels_text(labels), state),
            )
        for rel in removed:
            db.query("UPDATE images SET present=0 WHERE rel_path=?", (rel,))
        moved = [] if fresh else _follow_moves(db, layout, added, removed, known)
    gone = {old for old, _ in moved}
    arrived = {new for _, new in moved}
    return ReconcileReport(
        [] if fresh else [r for r in added if r not in arrived],
        [r for r in removed if r not in gone],
        moved,
    )


def _follow_moves(db: Database, layout: Layout, added, removed, known) -> list[tuple[str, str]]:
    """Give a moved or renamed image its old row (tags, state, masks, history) back.

    A missing image and a new one are the same picture when their bytes are; only images whose
    hash was taken (every image ever opened or annotated) can be followed, and the file size
    rules out most candidates before any hashing.
    """
    if not removed or not added:
        return []
    rows = db.query(
        "SELECT id, rel_path, content_hash, file_size FROM images WHERE content_hash IS NOT NULL"
        f" AND rel_path IN ({','.join('?' * len(removed))})",
        tuple(removed),
    )
    by_size: dict[int, dict[str, sqlite3.Row]] = {}
    for row in rows:
        by_size.setdefault(row["file_size"], {})[row["content_hash"]] = row
    moved = []
    for rel in added:
        if rel in known or not by_size:
            continue
        path = layout.root / rel
        try:
            candidates = by_size.get(path.stat().st_size)
            row = candidates and candidates.get(content_hash(path))
        except OSError:
            continue
        if not row:
            continue
        del by_size[row["file_size"]][row["content_hash"]]
        folders = (layout.masks_dir, *(layout.heat_map_dir(k) for k in HEAT_MAP_KINDS))
        for folder in folders:
            old_file = folder / mask_rel_path(row["rel_path"])
            new_file = folder / mask_rel_path(rel)
            if old_file.is_file() and not new_file.exists():
                new_file.parent.mkdir(parents=True, exist_ok=True)
                os.replace(old_file, new_file)
        db.query("DELETE FROM images WHERE rel_path=?", (rel,))
        db.query("UPDATE images SET rel_path=?, present=1 WHERE id=?", (rel, row["id"]))
        moved.append((row["rel_path"], rel))
    return moved


def _map_labels(folder: DataFolder, sample: Sample, index: dict[str, int]) -> tuple[int, ...]:
    names = (folder.classes[k - 1].casefold() for k in sample.labels)
    return tuple(index[name] for name in names if name in index)


def _files_under(folder: Path) -> set[str]:
    """Relative POSIX paths of the files under a folder (empty when it does not exist)."""
    found = set()
    for parent, _, files in os.walk(folder):
        rel = Path(parent).relative_to(folder).as_posix()
        found.update(name if rel == "." else f"{rel}/{name}" for name in files)
    return found
