"""Undo and redo as compact patches (the rectangle an edit touched, before and after)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.tools import Rect


@dataclass
class Patch:
    """One edit: the rectangle and its pixels before and after."""

    rect: Rect
    before: np.ndarray
    after: np.ndarray


class EditHistory:
    """Per-image undo/redo stacks of patches (at least `limit` steps)."""

    def __init__(self, limit: int = 200) -> None:
        self.limit = limit
        self.undo_stack: list[Patch] = []
        self.redo_stack: list[Patch] = []

    def push(self, patch: Patch) -> None:
        """Record an edit; a new edit drops what could be redone."""
        self.undo_stack.append(patch)
        del self.undo_stack[: -self.limit]
        self.redo_stack.clear()

    def undo(self, mask: np.ndarray) -> Rect | None:
        """Restore the pixels before the last edit, in place."""
        if not self.undo_stack:
            return None
        patch = self.undo_stack.pop()
        x, y, w, h = patch.rect
        mask[y : y + h, x : x + w] = patch.before
        self.redo_stack.append(patch)
        return patch.rect

    def redo(self, mask: np.ndarray) -> Rect | None:
        """Re-apply the last undone edit, in place."""
        if not self.redo_stack:
            return None
        patch = self.redo_stack.pop()
        x, y, w, h = patch.rect
        mask[y : y + h, x : x + w] = patch.after
        self.undo_stack.append(patch)
        return patch.rect
