"""Tags the model suggests for images, kept in the project until a person takes or leaves them.

Suggestions are never tags: they are stored apart, by class index, with the checkpoint that
made them, and become tags only through `TagHistory.change` (one undoable step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from mcc_engine.project.database import Database

SUGGEST_AT: Final = 0.5  # a class is suggested when the classifier's sigmoid reaches this


@dataclass(frozen=True)
class Suggestion:
    """The classes suggested for an image (score at least SUGGEST_AT) and every class's score."""

    labels: tuple[int, ...]
    scores: dict[int, float]


class Suggestions:
    """Reads and stores the model's tag suggestions by image id."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def store(
        self,
        scores: dict[int, np.ndarray],
        *,
        model_classes: list[str],
        classes: dict[str, int],
        checkpoint: str,
    ) -> None:
        """Keep each image's scores (in the model's class order) under the project's indices.

        `classes` maps a project class name (casefolded) to its index: the model may know fewer
        classes than the project, or name them in another order.
        """
        columns = [(classes.get(name.casefold()), k) for k, name in enumerate(model_classes)]
        rows = []
        for image_id, values in scores.items():
            text = ",".join(f"{index}:{float(values[k]):.4f}" for index, k in columns if index)
            rows.append((image_id, text, checkpoint))
        self.db.query_many(
            "INSERT OR REPLACE INTO suggestions (image_id, scores, checkpoint) VALUES (?, ?, ?)",
            rows,
        )

    def all(self) -> dict[int, Suggestion]:
        """Every stored suggestion by image id."""
        found = {}
        for row in self.db.query("SELECT image_id, scores FROM suggestions"):
            pairs = (item.split(":") for item in row["scores"].split(",") if item)
            scores = {int(k): float(v) for k, v in pairs}
            labels = tuple(sorted(k for k, v in scores.items() if v >= SUGGEST_AT))
            found[row["image_id"]] = Suggestion(labels, scores)
        return found
