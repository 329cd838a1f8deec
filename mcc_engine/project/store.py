"""The project store: images, tags, classes, per-image state, mask revisions, runs (SQLite, WAL)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

import numpy as np

from mcc_engine.atomic import atomic_path, atomic_write_bytes
from mcc_engine.data.folder import PROJECT_FOLDER, DataFolder, Sample, load_data_folder
from mcc_engine.data.images import image_size
from mcc_engine.data.masks import (
    IGNORE,
    encode_mask,
    mask_rel_path,
    read_confidence,
    read_mask,
    voc_colormap,
    write_confidence,
    write_mask,
)
from mcc_engine.errors import InputError
from mcc_engine.project.locate import project_root

SCHEMA_VERSION: Final = 2
HISTORY: Final = 100  # mask revisions kept per image
STATES: Final = ("new", "proposed", "edited", "reviewed")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS classes (idx INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                                    color TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (id INTEGER PRIMARY KEY, rel_path TEXT NOT NULL UNIQUE,
    width INTEGER NOT NULL, height INTEGER NOT NULL, labels TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'new', score REAL, updated_at REAL, updated_by TEXT,
    rev_pos INTEGER NOT NULL DEFAULT 0, present INTEGER NOT NULL DEFAULT 1, content_hash TEXT,
    file_size INTEGER);
CREATE TABLE IF NOT EXISTS revisions (image_id INTEGER NOT NULL, seq INTEGER NOT NULL, png BLOB,
    state TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (image_id, seq));
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, run_dir TEXT NOT NULL, checkpoint TEXT NOT NULL,
    kind TEXT NOT NULL, settings TEXT NOT NULL, created_at REAL NOT NULL);
"""

# Each entry upgrades a project from version k to k + 1; run in order, inside one transaction.
_MIGRATIONS: Final = {
    1: (
        "ALTER TABLE images ADD COLUMN content_hash TEXT",
        "ALTER TABLE images ADD COLUMN file_size INTEGER",
    ),
}


def content_hash(path: Path) -> str:
    """A BLAKE2b digest of the file's bytes: an image keeps its work when it is moved or renamed."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ProjectInUse(InputError):
    """Another process has this project open for writing."""


@dataclass(frozen=True)
class ClassInfo:
    """A class of the project: index 1..K, name and colour."""

    index: int
    name: str
    color: tuple[int, int, int]


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


@dataclass
class ReconcileReport:
    """Images found on disk since the last open, images that went missing, and moved images."""

    added: list[str]
    removed: list[str]
    moved: list[tuple[str, str]] = field(default_factory=list)  # (old path, new path)


def _labels_text(labels: Iterable[int]) -> str:
    return ",".join(str(k) for k in sorted(set(labels)))


def _row_to_image(row) -> ImageInfo:
    labels = tuple(int(v) for v in row["labels"].split(",") if v)
    return ImageInfo(row["id"], row["rel_path"], row["width"], row["height"], row["state"], labels,
                     row["score"], row["updated_at"], row["updated_by"])  # fmt: skip


class Project:
    """An open project. Use `Project.open(path)`; close it (or use `with`) when done."""

    def __init__(self, root: Path, *, readonly: bool, author: str | None) -> None:
        self.root = root
        self.project_dir = root / PROJECT_FOLDER
        self.masks_dir = self.project_dir / "masks"
        self.confidence_dir = self.project_dir / "confidence"
        self.cam_dir = self.project_dir / "cam"
        self.runs_dir = self.project_dir / "runs"
        self.readonly = readonly
        self.author = author or os.environ.get("USER") or "annotator"
        self._lock_path = self.project_dir / "project.lock"
        self._mutex = threading.RLock()  # one connection shared by GUI and worker threads
        self._db: sqlite3.Connection | None = None
        self._locked = False
        self.reconcile_report = ReconcileReport([], [])

    @classmethod
    def open(
        cls, path: str | Path, *, readonly: bool = False, author: str | None = None
    ) -> Project:
        """Open (creating if needed) the project of a data folder, or a project.sqlite file."""
        project = cls(project_root(path), readonly=readonly, author=author)
        created = not project.project_dir.exists()
        try:
            project._connect()
        except BaseException:
            project.close()  # release the lock of a project that could not be opened
            if created:  # a refused folder (no tags, a bad name) is left as it was
                shutil.rmtree(project.project_dir, ignore_errors=True)
            raise
        return project

    @property
    def db_path(self) -> Path:
        """The SQLite file."""
        return self.project_dir / "project.sqlite"

    def _connect(self) -> None:
        fresh = not self.db_path.exists()
        if fresh and self.readonly:
            raise InputError(self.root, "no project here to open read-only")
        if not self.readonly:
            self.project_dir.mkdir(parents=True, exist_ok=True)
            self._take_lock()
        uri = f"file:{self.db_path}{'?mode=ro' if self.readonly else ''}"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if not self.readonly:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.DatabaseError as exc:
                raise InputError(self.db_path, f"not a readable project file ({exc})") from None
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self._reconcile(fresh)
            self._remove_partial_writes()

    def _migrate(self) -> None:
        try:
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError(self.db_path, f"not a readable project file ({exc})") from None
        if row is None:  # new, or cut off while being created: tell its version by its columns
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(images)")}
            version = SCHEMA_VERSION if "content_hash" in columns else 1
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(version),))
        else:
            version = int(row[0])
        if version > SCHEMA_VERSION:
            raise InputError(self.db_path, "made by a newer MCC Annotate; update the app")
        if version == SCHEMA_VERSION:
            return
        with self._mutex, self._db:
            self._db.execute("BEGIN")
            for step in range(version, SCHEMA_VERSION):
                for sql in _MIGRATIONS[step]:
                    self._db.execute(sql)
            self._db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))

    def _remove_partial_writes(self) -> None:
        # A process killed mid-write leaves its temporary file; the mask itself is intact.
        if self.masks_dir.is_dir():
            for tmp in self.masks_dir.rglob(".*.tmp"):
                tmp.unlink(missing_ok=True)

    def _take_lock(self) -> None:
        me = f"{socket.gethostname()} pid {os.getpid()}"
        for _ in range(2):
            try:
                fd = os.open(self._lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                holder = self._lock_path.read_text(encoding="utf-8", errors="replace").strip()
                host, _, pid = holder.partition(" pid ")
                if (
                    host == socket.gethostname()
                    and pid.split(" ")[0].isdigit()
                    and not _alive(int(pid.split(" ")[0]))
                ):
                    self._lock_path.unlink(missing_ok=True)  # left by a process that died
                    continue
                raise ProjectInUse(
                    self.root, f"project in use by {holder}; open it read-only or close it there"
                ) from None
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f"{me} since {time.strftime('%Y-%m-%d %H:%M')}\n")
            self._locked = True
            return

    def close(self) -> None:
        """Close the database and release the lock."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._locked:
            self._lock_path.unlink(missing_ok=True)
            self._locked = False

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _q(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._mutex:
            return self._db.execute(sql, args).fetchall()

    def _reconcile(self, fresh: bool) -> None:
        folder = load_data_folder(self.root)
        cmap = voc_colormap()
        with self._mutex, self._db:
            self._db.execute("BEGIN")
            if fresh:
                for k, name in enumerate(folder.classes, start=1):
                    color = ",".join(str(int(c)) for c in cmap[k])
                    self._db.execute("INSERT INTO classes VALUES (?, ?, ?)", (k, name, color))
            known = {
                r["rel_path"]: r["present"]
                for r in self._db.execute("SELECT rel_path, present FROM images")
            }
            on_disk = {s.rel_path: s for s in folder.samples}
            masks = _files_under(self.masks_dir)  # one walk, not a file check per image
            added = sorted(set(on_disk) - {p for p, present in known.items() if present})
            removed = sorted(p for p, present in known.items() if present and p not in on_disk)
            for rel in added:
                if rel in known:
                    self._db.execute("UPDATE images SET present=1 WHERE rel_path=?", (rel,))
                    continue
                # Sizes are read when an image is first used: opening 10,000 images stays fast.
                labels = (
                    self._map_labels(folder, on_disk[rel]) if not fresh else on_disk[rel].labels
                )
                state = "edited" if masks and mask_rel_path(rel) in masks else "new"
                self._db.execute("INSERT INTO images (rel_path, width, height, labels, state) VALUES (?,0,0,?,?)",
                                 (rel, _labels_text(labels), state))  # fmt: skip
            for rel in removed:
                self._db.execute("UPDATE images SET present=0 WHERE rel_path=?", (rel,))
            moved = [] if fresh else self._follow_moves(added, removed, known)
        gone = {old for old, _ in moved}
        arrived = {new for _, new in moved}
        self.reconcile_report = ReconcileReport(
            [] if fresh else [r for r in added if r not in arrived],
            [r for r in removed if r not in gone],
            moved,
        )

    def _follow_moves(self, added, removed, known) -> list[tuple[str, str]]:
        """Give a moved or renamed image its old row (tags, state, masks, history) back.

        A missing image and a new one are the same picture when their bytes are; only images whose
        hash was taken (every image ever opened or annotated) can be followed, and the file size
        rules out most candidates before any hashing.
        """
        if not removed or not added:
            return []
        rows = self._db.execute(
            f"SELECT id, rel_path, content_hash, file_size FROM images WHERE content_hash IS NOT "
            f"NULL AND rel_path IN ({','.join('?' * len(removed))})", tuple(removed),
        ).fetchall()  # fmt: skip
        by_size: dict[int, dict[str, sqlite3.Row]] = {}
        for row in rows:
            by_size.setdefault(row["file_size"], {})[row["content_hash"]] = row
        moved = []
        for rel in added:
            if rel in known or not by_size:
                continue
            path = self.root / rel
            try:
                candidates = by_size.get(path.stat().st_size)
                row = candidates and candidates.get(content_hash(path))
            except OSError:
                continue
            if not row:
                continue
            del by_size[row["file_size"]][row["content_hash"]]
            for folder in (self.masks_dir, self.confidence_dir, self.cam_dir):
                old_file, new_file = (
                    folder / mask_rel_path(row["rel_path"]),
                    folder / mask_rel_path(rel),
                )
                if old_file.is_file() and not new_file.exists():
                    new_file.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(old_file, new_file)
            self._db.execute("DELETE FROM images WHERE rel_path=?", (rel,))
            self._db.execute("UPDATE images SET rel_path=?, present=1 WHERE id=?", (rel, row["id"]))
            moved.append((row["rel_path"], rel))
        return moved

    def _map_labels(self, folder: DataFolder, sample: Sample) -> tuple[int, ...]:
        index = {c.name.casefold(): c.index for c in self.classes()}
        return tuple(index[folder.classes[k - 1].casefold()] for k in sample.labels
                     if folder.classes[k - 1].casefold() in index)  # fmt: skip

    # -- classes ---------------------------------------------------------------------------
    def classes(self) -> list[ClassInfo]:
        """The ordered class list (background not included)."""
        rows = self._q("SELECT idx, name, color FROM classes ORDER BY idx")
        return [
            ClassInfo(r["idx"], r["name"], tuple(int(c) for c in r["color"].split(",")))
            for r in rows
        ]

    def add_class(self, name: str, color: tuple[int, int, int] | None = None) -> ClassInfo:
        """Append a class; names are unique, compared without case."""
        name = name.strip()
        if not name:
            raise InputError(self.db_path, "a class needs a name")
        if any(c.name.casefold() == name.casefold() for c in self.classes()):
            raise InputError(self.db_path, f"class {name!r} exists already")
        index = len(self.classes()) + 1
        if index >= IGNORE:
            raise InputError(self.db_path, "at most 254 classes")
        color = color or tuple(int(c) for c in voc_colormap()[index])
        self._q("INSERT INTO classes VALUES (?, ?, ?)", (index, name, ",".join(map(str, color))))
        return ClassInfo(index, name, color)

    def rename_class(self, index: int, name: str) -> None:
        """Give class `index` a new name."""
        if any(
            c.name.casefold() == name.strip().casefold() and c.index != index
            for c in self.classes()
        ):
            raise InputError(self.db_path, f"class {name!r} exists already")
        self._q("UPDATE classes SET name=? WHERE idx=?", (name.strip(), index))

    # -- images ----------------------------------------------------------------------------
    def images(self, *, state: str | None = None, tag: int | None = None, search: str | None = None,
               order: str = "name") -> list[ImageInfo]:  # fmt: skip
        """Images present on disk, filtered and sorted (uncertainty: highest score first)."""
        sql, args = "SELECT * FROM images WHERE present=1", []
        if state:
            sql += " AND state=?"
            args.append(state)
        if search:
            sql += " AND rel_path LIKE ?"
            args.append(f"%{search}%")
        sql += " ORDER BY " + (
            "score IS NULL, score DESC, rel_path" if order == "uncertainty" else "rel_path"
        )
        rows = [_row_to_image(r) for r in self._q(sql, tuple(args))]
        return [r for r in rows if tag is None or tag in r.labels]

    def image(self, image_id: int) -> ImageInfo:
        """One image by id."""
        rows = self._q("SELECT * FROM images WHERE id=?", (image_id,))
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
                self._q("UPDATE images SET width=?, height=?, content_hash=?, file_size=? WHERE id=?",
                        (width, height, digest, size, image_id))  # fmt: skip
        return image

    def image_path(self, image: ImageInfo) -> Path:
        """The image file."""
        return self.root / image.rel_path

    def mask_path(self, image: ImageInfo) -> Path:
        """Where the image's current mask lives."""
        return self.masks_dir / mask_rel_path(image.rel_path)

    def _touch(self, image_id: int, **values) -> None:
        values.update(updated_at=time.time(), updated_by=self.author)
        cols = ", ".join(f"{k}=?" for k in values)
        self._q(f"UPDATE images SET {cols} WHERE id=?", (*values.values(), image_id))

    def set_tags(self, image_id: int, labels: Iterable[int]) -> None:
        """Replace an image's tags (class indices)."""
        self._touch(image_id, labels=_labels_text(labels))

    def set_state(self, image_id: int, state: str) -> None:
        """new / proposed / edited / reviewed."""
        if state not in STATES:
            raise ValueError(state)
        self._touch(image_id, state=state)

    def set_scores(self, scores: dict[int, float]) -> None:
        """Store uncertainty scores by image id."""
        with self._mutex, self._db:
            self._db.executemany(
                "UPDATE images SET score=? WHERE id=?", [(s, i) for i, s in scores.items()]
            )

    # -- masks and their history ------------------------------------------------------------
    def load_mask(self, image_id: int) -> np.ndarray | None:
        """The image's current mask, or None."""
        path = self.mask_path(self.image(image_id))
        return read_mask(path) if path.is_file() else None

    def save_mask(self, image_id: int, mask: np.ndarray, *, state: str = "edited") -> int:
        """Write the mask atomically and record a revision; returns its number."""
        image = self.image(image_id)
        if mask.shape != (image.height, image.width):
            raise InputError(
                self.mask_path(image), f"mask shape {mask.shape} differs from the image's"
            )
        with self._mutex:
            rows = self._q("SELECT MIN(seq) FROM revisions WHERE image_id=?", (image_id,))
            if rows[0][0] is None:  # the first edit: keep what was there as revision 0
                before = self.load_mask(image_id)
                self._q("INSERT INTO revisions VALUES (?, 0, ?, ?, ?)",
                        (image_id, None if before is None else encode_mask(before), image.state, time.time()))  # fmt: skip
            pos = self._q("SELECT rev_pos FROM images WHERE id=?", (image_id,))[0][0]
            seq = pos + 1
            png = encode_mask(mask)  # once, for the file and the revision: big masks are slow
            # The new file is renamed into place only once the revision is committed: a full disk
            # or a kill at any moment leaves the previous mask, and the database agreeing with it.
            with self._saving(self.mask_path(image)), atomic_path(self.mask_path(image)) as tmp:
                tmp.write_bytes(png)
                with self._db:
                    self._db.execute("BEGIN")
                    self._db.execute(
                        "DELETE FROM revisions WHERE image_id=? AND seq>=?", (image_id, seq)
                    )
                    self._db.execute("INSERT INTO revisions VALUES (?, ?, ?, ?, ?)",
                                     (image_id, seq, png, state, time.time()))  # fmt: skip
                    self._db.execute("DELETE FROM revisions WHERE image_id=? AND seq<=?",
                                     (image_id, seq - HISTORY))  # fmt: skip
                    self._db.execute("UPDATE images SET rev_pos=?, state=?, updated_at=?, updated_by=? WHERE id=?",
                                     (seq, state, time.time(), self.author, image_id))  # fmt: skip
            return seq

    @contextlib.contextmanager
    def _saving(self, path: Path) -> Iterator[None]:
        """Turn a full or read-only disk into one clear error naming the mask."""
        try:
            yield
        except (OSError, sqlite3.OperationalError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise InputError(path, f"not saved, disk full or not writable ({reason}); "
                                   "the previous version is kept") from None  # fmt: skip

    def _step(self, image_id: int, delta: int) -> np.ndarray | None:
        with self._mutex:
            pos = self._q("SELECT rev_pos FROM images WHERE id=?", (image_id,))[0][0]
            rows = self._q(
                "SELECT png, state FROM revisions WHERE image_id=? AND seq=?",
                (image_id, pos + delta),
            )
            if not rows:
                return None
            path = self.mask_path(self.image(image_id))
            if rows[0]["png"] is None:
                path.unlink(missing_ok=True)
                mask = None
            else:
                atomic_write_bytes(path, rows[0]["png"])
                mask = read_mask(path)
            self._touch(image_id, rev_pos=pos + delta, state=rows[0]["state"])
            return (
                mask
                if mask is not None
                else np.full(
                    (self.image(image_id).height, self.image(image_id).width), IGNORE, np.uint8
                )
            )

    def can_undo(self, image_id: int) -> bool:
        """Whether an earlier revision exists."""
        return bool(self._q("SELECT 1 FROM revisions r JOIN images i ON i.id=r.image_id "
                            "WHERE r.image_id=? AND r.seq=i.rev_pos-1", (image_id,)))  # fmt: skip

    def can_redo(self, image_id: int) -> bool:
        """Whether a later revision exists."""
        return bool(self._q("SELECT 1 FROM revisions r JOIN images i ON i.id=r.image_id "
                            "WHERE r.image_id=? AND r.seq=i.rev_pos+1", (image_id,)))  # fmt: skip

    def undo(self, image_id: int) -> np.ndarray | None:
        """Go back one revision; returns the mask now current (None when nothing to undo)."""
        return self._step(image_id, -1)

    def redo(self, image_id: int) -> np.ndarray | None:
        """Go forward one revision."""
        return self._step(image_id, +1)

    def save_proposal(self, image_id: int, mask: np.ndarray, *, score: float | None = None,
                      confidence: np.ndarray | None = None, cam: np.ndarray | None = None) -> bool:  # fmt: skip
        """Store a model proposal unless a person edited or reviewed the image; returns whether it did.

        `confidence` and `cam` (H x W in [0, 1]) are kept as 8-bit PNGs for the app's heat map.
        """
        image = self.image(image_id)
        if image.state in ("edited", "reviewed"):
            return False
        path = self.mask_path(image)
        with self._saving(path):
            for kind, values in (("confidence", confidence), ("cam", cam)):
                if values is not None:
                    write_confidence(self.heat_map_path(image, kind), values)
            write_mask(path, mask)
            self._q("UPDATE images SET state='proposed', score=? WHERE id=?", (score, image_id))
        return True

    def heat_map_path(self, image: ImageInfo, kind: str) -> Path:
        """Where the last proposal's `confidence` or `cam` map of an image lives."""
        folder = {"confidence": self.confidence_dir, "cam": self.cam_dir}[kind]
        return folder / mask_rel_path(image.rel_path)

    def heat_map(self, image_id: int, kind: str) -> np.ndarray | None:
        """The last proposal's confidence or CAM map (H x W uint8, 255 = 1.0), or None."""
        path = self.heat_map_path(self.image(image_id), kind)
        return read_confidence(path) if path.is_file() else None

    def corrected_images(self) -> list[str]:
        """Relative paths of images a person edited or reviewed."""
        return [r.rel_path for r in self.images() if r.state in ("edited", "reviewed")]

    def data_folder(self) -> DataFolder:
        """The project's images with their current tags, for training and inference."""
        names = [c.name for c in self.classes()]
        samples = [Sample(r.rel_path, r.labels) for r in self.images()]
        return DataFolder(root=self.root, classes=names, samples=samples)

    # -- runs ------------------------------------------------------------------------------
    def add_run(
        self, run_dir: str | Path, checkpoint: str | Path, *, kind: str, settings: dict
    ) -> None:
        """Record a training run and its checkpoint."""
        self._q("INSERT INTO runs (run_dir, checkpoint, kind, settings, created_at) VALUES (?,?,?,?,?)",
                (str(run_dir), str(checkpoint), kind, json.dumps(settings), time.time()))  # fmt: skip

    def latest_checkpoint(self) -> Path | None:
        """The newest recorded checkpoint that still exists."""
        for row in self._q("SELECT checkpoint FROM runs ORDER BY id DESC"):
            if Path(row[0]).is_file():
                return Path(row[0])
        return None


def _files_under(folder: Path) -> set[str]:
    """Relative POSIX paths of the files under a folder (empty when it does not exist)."""
    found = set()
    for parent, _, files in os.walk(folder):
        rel = Path(parent).relative_to(folder).as_posix()
        found.update(name if rel == "." else f"{rel}/{name}" for name in files)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
