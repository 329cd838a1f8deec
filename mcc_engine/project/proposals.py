"""The model's proposals: masks for images nobody edited, with their confidence and CAM maps."""

from __future__ import annotations

import numpy as np

from mcc_engine.data.masks import read_confidence, write_confidence, write_mask
from mcc_engine.project.database import Database
from mcc_engine.project.images import Images
from mcc_engine.project.layout import Layout
from mcc_engine.project.revisions import Revisions, disk_errors


class Proposals:
    """Stores proposals without ever replacing a person's work."""

    def __init__(self, db: Database, layout: Layout, images: Images, revisions: Revisions) -> None:
        self.db, self.layout, self.images, self.revisions = db, layout, images, revisions

    def save(
        self,
        image_id: int,
        mask: np.ndarray,
        *,
        score: float | None = None,
        confidence: np.ndarray | None = None,
        cam: np.ndarray | None = None,
    ) -> bool:
        """Store a proposal unless a person worked on the image; returns whether it did.

        A person's work: the image is edited or reviewed, or it has a history at all (every
        revision is a person's edit, which an undo may have set aside to redo). `confidence` and
        `cam` (H x W in [0, 1]) are kept as 8-bit PNGs for the app's heat map.
        """
        with self.db.lock:  # no edit from another thread slips in between the check and the write
            image = self.images.get(image_id)
            if image.state in ("edited", "reviewed") or self.revisions.history(image_id).revisions:
                return False
            path = self.layout.mask_path(image.rel_path)
            with disk_errors(path):
                for kind, values in (("confidence", confidence), ("cam", cam)):
                    if values is not None:
                        write_confidence(self.layout.heat_map_path(image.rel_path, kind), values)
                write_mask(path, mask)
                self.db.query(
                    "UPDATE images SET state='proposed', score=? WHERE id=?", (score, image_id)
                )
        return True

    def heat_map(self, image_id: int, kind: str) -> np.ndarray | None:
        """The last proposal's confidence or CAM map (H x W uint8, 255 = 1.0), or None."""
        path = self.layout.heat_map_path(self.images.get(image_id).rel_path, kind)
        return read_confidence(path) if path.is_file() else None
