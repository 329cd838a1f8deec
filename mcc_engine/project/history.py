"""One image's undo history as an editor sees it: the project's revisions and a pointer into them.

The project stores every revision of a mask (its pixels and its state); undo and redo move the
image's pointer and write nothing new, and an edit after undos drops what could be redone. A
`MaskHistory` is the editor's view of that: it changes at once (painting stays responsive) and
hands each change to a `HistorySink` that applies it to the project in the same order, either
directly (the project itself) or later, in a background thread (the app's saver). The pixels of
each step it has seen are cached as patches, so undo and redo need no decoding; a step it has not
seen is read back from the project.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np

from mcc_engine.data.masks import IGNORE

Rect = tuple[int, int, int, int]  # x, y, width, height
PATCH_BYTES: Final = 128 << 20  # patches kept per image; older steps are read back when needed


@dataclass(frozen=True)
class Revision:
    """A stored revision: its number, the image's state with it, and whether it has a mask."""

    seq: int
    state: str
    has_mask: bool


@dataclass(frozen=True)
class HistoryInfo:
    """What the project stores of an image's history (revisions oldest first, none before the
    first edit), the current one, the image's state and whether a mask file exists."""

    image_id: int
    revisions: tuple[Revision, ...]
    pos: int
    state: str
    has_mask: bool
    limit: int  # revisions kept; the oldest go first


class HistorySink(Protocol):
    """Where a history's changes go, in order: the project, or a queue in front of it."""

    def push_mask(
        self, image_id: int, mask: np.ndarray, *, state: str, expect_pos: int, expect_state: str
    ) -> object:
        """Store `mask` as the revision after `expect_pos` (the caller's current one)."""

    def move_to(self, image_id: int, seq: int) -> object:
        """Make revision `seq` current: its mask file and its state."""

    def set_state(self, image_id: int, state: str) -> object:
        """Give the image, and its current revision, a state."""

    def revision_mask(self, image_id: int, seq: int) -> np.ndarray | None:
        """The mask of revision `seq` (None: no mask), once earlier changes are stored."""


@dataclass
class Patch:
    """The pixels of one step: a rectangle and its content before and after."""

    rect: Rect
    before: np.ndarray
    after: np.ndarray


def diff_patch(before: np.ndarray, after: np.ndarray) -> Patch:
    """The smallest patch that turns `before` into `after` (same shape)."""
    changed = before != after
    ys, xs = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    if not len(ys):
        return Patch((0, 0, 0, 0), before[:0, :0].copy(), after[:0, :0].copy())
    x, y, w, h = int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)
    return Patch(
        (x, y, w, h), before[y : y + h, x : x + w].copy(), after[y : y + h, x : x + w].copy()
    )


class MaskHistory:
    """The revisions of one image, its current mask (`mask`, edited in place by the canvas) and
    a pointer; listeners hear of every change (with the rectangle of pixels that changed)."""

    def __init__(
        self,
        info: HistoryInfo,
        mask: np.ndarray | None,
        *,
        shape: tuple[int, int],
        sink: HistorySink,
    ) -> None:
        self.image_id = info.image_id
        self.mask = np.full(shape, IGNORE, np.uint8) if mask is None else mask.copy()
        self.sink = sink
        self._listeners: list[Callable[[Rect | None], None]] = []
        self._adopt(info)

    def _adopt(self, info: HistoryInfo) -> None:
        self.limit = info.limit
        self.revisions: dict[int, Revision] = {r.seq: r for r in info.revisions}
        self.pos = info.pos
        self._state, self._has_mask = info.state, info.has_mask  # before the first revision
        self._patches: dict[int, Patch] = {}  # step k turns revision k - 1 into revision k
        self._unsaved = False  # the mask shows pixels no revision holds (a save failed)

    @classmethod
    def detached(cls, mask: np.ndarray, *, image_id: int = 0) -> MaskHistory:
        """A history that stores nothing (benchmarks, previews)."""
        info = HistoryInfo(image_id, (), 0, "new", True, limit=1 << 30)
        return cls(info, mask, shape=mask.shape, sink=_Nowhere())

    # -- what it shows ------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """The image's state now: the current revision's."""
        return self.revisions[self.pos].state if self.revisions else self._state

    @property
    def has_mask(self) -> bool:
        """Whether the current revision has a mask file (an image never edited may have none)."""
        return self.revisions[self.pos].has_mask if self.revisions else self._has_mask

    def can_undo(self) -> bool:
        """Whether an earlier revision is kept."""
        return self.pos - 1 in self.revisions

    def can_redo(self) -> bool:
        """Whether a later revision is kept (nothing was edited since the last undo)."""
        return self.pos + 1 in self.revisions

    def subscribe(self, listener: Callable[[Rect | None], None]) -> None:
        """Call `listener(rect)` after each change (rect None: the state alone changed)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[Rect | None], None]) -> None:
        """Stop calling `listener`."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _changed(self, rect: Rect | None) -> None:
        for listener in list(self._listeners):
            listener(rect)

    # -- changes ------------------------------------------------------------------------------
    def commit(self, rect: Rect, before: np.ndarray, *, state: str = "edited") -> int:
        """Record an edit made in place in `mask` (`before`: the rectangle's old pixels) as a new
        revision; what could be redone is dropped. Returns the revision's number."""
        if not self.revisions:  # the project keeps what was there as the first revision
            self.revisions = {self.pos: Revision(self.pos, self._state, self._has_mask)}
        base = self.revisions[self.pos]
        seq = self.pos + 1
        for dropped in [k for k in self.revisions if k > self.pos]:
            del self.revisions[dropped]
            self._patches.pop(dropped, None)
        x, y, w, h = rect
        if not self._unsaved:  # after a failed save, the step from the last revision is unknown
            self._cache(seq, Patch(rect, before.copy(), self.mask[y : y + h, x : x + w].copy()))
        self._unsaved = False
        self.revisions[seq] = Revision(seq, state, True)
        for old in [k for k in self.revisions if k <= seq - self.limit]:
            del self.revisions[old]
        first = min(self.revisions)
        for old in [k for k in self._patches if k <= first]:
            del self._patches[old]
        self.pos = seq
        self.sink.push_mask(
            self.image_id,
            self.mask.copy(),
            state=state,
            expect_pos=base.seq,
            expect_state=base.state,
        )
        self._changed(rect)
        return seq

    def commit_whole(self, *, state: str = "edited") -> int:
        """Record the whole mask as it is now as a new revision (marking a maskless image)."""
        h, w = self.mask.shape
        return self.commit((0, 0, w, h), self.mask, state=state)

    def undo(self) -> bool:
        """Go back one revision; False when none is kept."""
        return self.can_undo() and self._go(self.pos - 1)

    def redo(self) -> bool:
        """Go forward one revision; False when none is kept."""
        return self.can_redo() and self._go(self.pos + 1)

    def _go(self, target: int) -> bool:
        step = max(target, self.pos)
        patch = self._patches.get(step)
        if patch is None or self._unsaved:
            stored = self.sink.revision_mask(self.image_id, target)
            if stored is None:
                stored = np.full(self.mask.shape, IGNORE, np.uint8)
            forward = target > self.pos
            patch = diff_patch(self.mask, stored) if forward else diff_patch(stored, self.mask)
            if not self._unsaved:
                self._cache(step, patch)
            self._unsaved = False
        x, y, w, h = patch.rect
        self.mask[y : y + h, x : x + w] = patch.after if target > self.pos else patch.before
        self.pos = target
        self.sink.move_to(self.image_id, target)
        self._changed(patch.rect)
        return True

    def _cache(self, step: int, patch: Patch) -> None:
        """Keep a step's pixels, dropping the oldest steps' beyond PATCH_BYTES (a replace-class
        step on a 20-megapixel image holds 40 MB)."""
        self._patches[step] = patch
        size = sum(p.before.nbytes + p.after.nbytes for p in self._patches.values())
        for old in sorted(self._patches):
            if size <= PATCH_BYTES or old == step:
                break
            dropped = self._patches.pop(old)
            size -= dropped.before.nbytes + dropped.after.nbytes

    def set_state(self, state: str) -> None:
        """Give the image a state (e.g. reviewed); it belongs to the current revision."""
        if self.revisions:
            current = self.revisions[self.pos]
            self.revisions[self.pos] = Revision(current.seq, state, current.has_mask)
        else:
            self._state = state
        self.sink.set_state(self.image_id, state)
        self._changed(None)

    def resync(self, info: HistoryInfo, mask: np.ndarray | None, *, keep_pixels: bool) -> None:
        """Take the project's history as it is (after a failed save, or another writer's change).

        `keep_pixels` leaves the mask as shown (its unsaved pixels go with the next edit);
        otherwise the mask becomes the project's current one.
        """
        self._adopt(info)
        if keep_pixels:
            self._unsaved = True
        else:
            self.mask[...] = IGNORE if mask is None else mask
        h, w = self.mask.shape
        self._changed((0, 0, w, h))


class _Nowhere:
    """A sink that stores nothing."""

    def push_mask(self, *args, **kwargs) -> None:
        """Nothing to store."""

    def move_to(self, *args, **kwargs) -> None:
        """Nothing to store."""

    def set_state(self, *args, **kwargs) -> None:
        """Nothing to store."""

    def revision_mask(self, image_id: int, seq: int) -> np.ndarray | None:
        """Nothing is stored: no step can be read back."""
        raise KeyError(seq)
