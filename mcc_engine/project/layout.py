"""Where a project keeps its files: `<data>/mcc_project/` with the database, masks and heat maps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mcc_engine.data.folder import PROJECT_FOLDER
from mcc_engine.data.masks import mask_rel_path

HEAT_MAP_KINDS = ("confidence", "cam")


@dataclass(frozen=True)
class Layout:
    """The paths of one project, from its data folder."""

    root: Path

    @property
    def project_dir(self) -> Path:
        """`<data>/mcc_project`."""
        return self.root / PROJECT_FOLDER

    @property
    def db_path(self) -> Path:
        """The SQLite file."""
        return self.project_dir / "project.sqlite"

    @property
    def lock_path(self) -> Path:
        """The file that says which process has the project open for writing."""
        return self.project_dir / "project.lock"

    @property
    def masks_dir(self) -> Path:
        """The masks, mirroring the images' relative paths."""
        return self.project_dir / "masks"

    @property
    def runs_dir(self) -> Path:
        """Fine-tuning runs."""
        return self.project_dir / "runs"

    def heat_map_dir(self, kind: str) -> Path:
        """Where the last proposals' `confidence` or `cam` maps live."""
        if kind not in HEAT_MAP_KINDS:
            raise ValueError(kind)
        return self.project_dir / kind

    def mask_path(self, rel_path: str) -> Path:
        """The mask file of an image (by its relative path)."""
        return self.masks_dir / mask_rel_path(rel_path)

    def heat_map_path(self, rel_path: str, kind: str) -> Path:
        """The `confidence` or `cam` map file of an image."""
        return self.heat_map_dir(kind) / mask_rel_path(rel_path)
