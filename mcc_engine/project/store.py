"""The project store: one object for an open project, its parts in the modules beside this one.

`schema` (tables, migrations), `lock` (one writer), `reconcile` (images added, removed, moved),
`classes`, `images` (rows, tags, state, scores), `revisions` (masks and their history), `history`
(an editor's view of one image's history), `proposals` (the model's masks and heat maps), `runs`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mcc_engine.data.folder import DataFolder, Sample
from mcc_engine.errors import InputError
from mcc_engine.project.classes import Classes, ClassInfo
from mcc_engine.project.database import Database
from mcc_engine.project.history import HistoryInfo
from mcc_engine.project.images import STATES, ImageInfo, Images, content_hash
from mcc_engine.project.layout import Layout
from mcc_engine.project.locate import project_root
from mcc_engine.project.lock import ProjectInUse, take_lock
from mcc_engine.project.proposals import Proposals
from mcc_engine.project.reconcile import ReconcileReport, reconcile
from mcc_engine.project.revisions import HISTORY, Revisions, StaleHistory
from mcc_engine.project.runs import Runs
from mcc_engine.project.schema import SCHEMA_VERSION, migrate
from mcc_engine.project.suggestions import Suggestion, Suggestions
from mcc_engine.project.tag_history import TagHistory

__all__ = [
    "HISTORY",
    "SCHEMA_VERSION",
    "STATES",
    "ClassInfo",
    "ImageInfo",
    "Project",
    "ProjectInUse",
    "ReconcileReport",
    "StaleHistory",
    "Suggestion",
    "content_hash",
]


class Project:
    """An open project. Use `Project.open(path)`; close it (or use `with`) when done."""

    def __init__(self, root: Path, *, readonly: bool, author: str | None) -> None:
        self.layout = Layout(root)
        self.root = root
        self.project_dir = self.layout.project_dir
        self.masks_dir = self.layout.masks_dir
        self.runs_dir = self.layout.runs_dir
        self.readonly = readonly
        self.author = author or os.environ.get("USER") or "annotator"
        self._db: Database | None = None
        self._locked = False
        self.reconcile_report = ReconcileReport([], [])

    @classmethod
    def open(
        cls, path: str | Path, *, readonly: bool = False, author: str | None = None
    ) -> Project:
        """Open (creating if needed) the project of a data folder, or a project.sqlite file.

        Opening reconciles the images with the data folder and repairs mask files a kill left
        behind their history; `reconcile_report` says what it found. A folder that cannot become
        a project (no images, a bad file name) is left as it was.
        """
        project = cls(project_root(path), readonly=readonly, author=author)
        created = not project.project_dir.exists()
        try:
            project._connect()
        except BaseException:
            project.close()  # release the lock of a project that could not be opened
            if created:  # a refused folder (no images, a bad name) is left as it was
                shutil.rmtree(project.project_dir, ignore_errors=True)
            raise
        return project

    @property
    def db_path(self) -> Path:
        """The SQLite file."""
        return self.layout.db_path

    def _connect(self) -> None:
        fresh = not self.db_path.exists()
        if fresh and self.readonly:
            raise InputError(self.root, "no project here to open read-only")
        if not self.readonly:
            self.project_dir.mkdir(parents=True, exist_ok=True)
            take_lock(self.layout.lock_path, project=self.root)
            self._locked = True
        self._db = db = Database(self.db_path, readonly=self.readonly)
        self._classes = Classes(db)
        self._images = Images(db, self.root, readonly=self.readonly, author=self.author)
        self.revisions = Revisions(db, self.layout, self._images)
        self._proposals = Proposals(db, self.layout, self._images, self.revisions)
        self._runs = Runs(db)
        self._tags = TagHistory(db, author=self.author)
        self._suggestions = Suggestions(db)
        if not self.readonly:
            migrate(db)
            self._remove_partial_writes()
            self.reconcile_report = reconcile(db, self.layout, self._classes, fresh=fresh)
            self.reconcile_report.repaired = self.revisions.repair()

    def _remove_partial_writes(self) -> None:
        # A process killed mid-write leaves its temporary file; the mask itself is intact.
        if self.masks_dir.is_dir():
            for tmp in self.masks_dir.rglob(".*.tmp"):
                tmp.unlink(missing_ok=True)

    def close(self) -> None:
        """Close the database and release the lock."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._locked:
            self.layout.lock_path.unlink(missing_ok=True)
            self._locked = False

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- classes ------------------------------------------------------------------------------
    def classes(self) -> list[ClassInfo]:
        """The ordered class list (background not included)."""
        return self._classes.all()

    def add_class(self, name: str, color: tuple[int, int, int] | None = None) -> ClassInfo:
        """Append a class; names are unique, compared without case."""
        return self._classes.add(name, color)

    def rename_class(self, index: int, name: str) -> None:
        """Give class `index` a new name."""
        self._classes.rename(index, name)

    # -- images -------------------------------------------------------------------------------
    def images(
        self,
        *,
        state: str | None = None,
        tag: int | None = None,
        search: str | None = None,
        tagged: bool | None = None,
        order: str = "name",
    ) -> list[ImageInfo]:
        """Images present on disk, filtered and sorted (uncertainty: highest score first)."""
        return self._images.list(state=state, tag=tag, search=search, tagged=tagged, order=order)

    def untagged_count(self) -> int:
        """Images present on disk that carry no tag yet."""
        return self._images.count_untagged()

    def image(self, image_id: int) -> ImageInfo:
        """One image by id (its size and content hash are read on first use)."""
        return self._images.get(image_id)

    def image_path(self, image: ImageInfo) -> Path:
        """The image file."""
        return self.root / image.rel_path

    def mask_path(self, image: ImageInfo) -> Path:
        """Where the image's current mask lives."""
        return self.layout.mask_path(image.rel_path)

    def set_tags(self, image_id: int, labels: Iterable[int]) -> None:
        """Replace an image's tags (class indices), as one undoable tag change."""
        self._tags.change({image_id: labels})

    # -- tags: one history of changes over many images --------------------------------------------
    def change_tags(self, labels: dict[int, Iterable[int]]) -> dict[int, tuple[int, ...]]:
        """Give images new tags in one undoable step; returns those whose tags changed, with
        their new tags."""
        return self._tags.change(labels)

    def undo_tags(self) -> dict[int, tuple[int, ...]]:
        """Take back the last tag change; returns the images it changed, with their tags now."""
        return self._tags.undo()

    def redo_tags(self) -> dict[int, tuple[int, ...]]:
        """Make the last undone tag change again; returns the images it changed."""
        return self._tags.redo()

    def can_undo_tags(self) -> bool:
        """Whether a tag change can be taken back."""
        return self._tags.can_undo()

    def can_redo_tags(self) -> bool:
        """Whether an undone tag change can be made again."""
        return self._tags.can_redo()

    def store_suggestions(
        self, scores: dict[int, np.ndarray], *, model_classes: list[str], checkpoint: str
    ) -> None:
        """Keep the model's class scores by image id (suggestions; never tags by themselves)."""
        classes = {c.name.casefold(): c.index for c in self.classes()}
        self._suggestions.store(
            scores, model_classes=model_classes, classes=classes, checkpoint=checkpoint
        )

    def suggestions(self) -> dict[int, Suggestion]:
        """The stored tag suggestions by image id."""
        return self._suggestions.all()

    def set_state(self, image_id: int, state: str) -> None:
        """new / proposed / edited / reviewed; the current revision keeps it too."""
        self.revisions.set_state(image_id, state)

    def set_scores(self, scores: dict[int, float]) -> None:
        """Store uncertainty scores by image id."""
        self._images.set_scores(scores)

    # -- masks and their history ----------------------------------------------------------------
    def load_mask(self, image_id: int) -> np.ndarray | None:
        """The image's current mask, or None."""
        return self.revisions.load_mask(image_id)

    def save_mask(self, image_id: int, mask: np.ndarray, *, state: str = "edited") -> int:
        """Store a mask as a new revision (what could be redone is dropped); returns its number."""
        return self.revisions.push(image_id, mask, state=state)

    def push_mask(
        self, image_id: int, mask: np.ndarray, *, state: str, expect_pos: int, expect_state: str
    ) -> int:
        """`save_mask` for an editor: StaleHistory unless the current revision is the one named."""
        return self.revisions.push(
            image_id, mask, state=state, expect_pos=expect_pos, expect_state=expect_state
        )

    def history(self, image_id: int) -> HistoryInfo:
        """The image's stored revisions and the current one."""
        return self.revisions.history(image_id)

    def revision_mask(self, image_id: int, seq: int) -> np.ndarray | None:
        """The mask of a kept revision (None: no mask then)."""
        return self.revisions.revision_mask(image_id, seq)

    def move_to(self, image_id: int, seq: int) -> None:
        """Make a kept revision current (undo and redo, by number)."""
        self.revisions.move_to(image_id, seq)

    def can_undo(self, image_id: int) -> bool:
        """Whether an earlier revision is kept."""
        return self.revisions.can_step(image_id, -1)

    def can_redo(self, image_id: int) -> bool:
        """Whether a later revision is kept."""
        return self.revisions.can_step(image_id, +1)

    def undo(self, image_id: int) -> np.ndarray | None:
        """Go back one revision; returns the mask now current (None when nothing to undo)."""
        return self.revisions.step(image_id, -1)

    def redo(self, image_id: int) -> np.ndarray | None:
        """Go forward one revision."""
        return self.revisions.step(image_id, +1)

    # -- proposals ------------------------------------------------------------------------------
    def save_proposal(
        self,
        image_id: int,
        mask: np.ndarray,
        *,
        score: float | None = None,
        confidence: np.ndarray | None = None,
        cam: np.ndarray | None = None,
    ) -> bool:
        """Store a model proposal unless a person's work would give way; returns whether it did."""
        return self._proposals.save(image_id, mask, score=score, confidence=confidence, cam=cam)

    def heat_map_path(self, image: ImageInfo, kind: str) -> Path:
        """Where the last proposal's `confidence` or `cam` map of an image lives."""
        return self.layout.heat_map_path(image.rel_path, kind)

    def heat_map(self, image_id: int, kind: str) -> np.ndarray | None:
        """The last proposal's confidence or CAM map (H x W uint8, 255 = 1.0), or None."""
        return self._proposals.heat_map(image_id, kind)

    def corrected_images(self) -> list[str]:
        """Relative paths of images a person edited or reviewed."""
        return [r.rel_path for r in self.images() if r.state in ("edited", "reviewed")]

    def data_folder(self, *, tagged: bool | None = None) -> DataFolder:
        """The project's images with their current tags (`tagged=True`: only images with a tag,
        the ones training learns from)."""
        names = [c.name for c in self.classes()]
        samples = [Sample(r.rel_path, r.labels) for r in self.images(tagged=tagged)]
        return DataFolder(root=self.root, classes=names, samples=samples)

    # -- runs -----------------------------------------------------------------------------------
    def add_run(
        self, run_dir: str | Path, checkpoint: str | Path, *, kind: str, settings: dict
    ) -> None:
        """Record a training run and its checkpoint."""
        self._runs.add(run_dir, checkpoint, kind=kind, settings=settings)

    def latest_checkpoint(self) -> Path | None:
        """The newest recorded checkpoint that still exists."""
        return self._runs.latest_checkpoint()
