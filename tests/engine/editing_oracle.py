"""The plain oracle of the editing state machines: each image's masks, states and a pointer.

It knows nothing of patches, PNGs or SQL: a list of whole masks per image, as a person would
describe the history. Shared by the store machine and the window machine.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from mcc_engine.data.masks import decode_mask

IGNORE = 255
LIMIT = 5  # revisions kept per image in the machines: old ones are dropped often
SIZES = ((9, 12), (14, 10), (16, 16))  # (height, width) of the machines' images


@dataclass(frozen=True)
class Rev:
    """A revision as the oracle knows it: a whole mask (None: no mask) and a state."""

    mask: np.ndarray | None
    state: str


@dataclass
class OracleImage:
    """One image's history: revisions by number, the current one, and what was there before."""

    shape: tuple[int, int]
    revs: dict[int, Rev] = field(default_factory=dict)
    pos: int = 0
    plain: Rev = Rev(None, "new")  # before the first edit

    def current(self) -> Rev:
        """The current revision (or what was there before any edit)."""
        return self.revs[self.pos] if self.revs else self.plain

    def shown(self) -> np.ndarray:
        """The mask an editor shows: all unlabelled without a mask."""
        mask = self.current().mask
        return np.full(self.shape, IGNORE, np.uint8) if mask is None else mask

    def edit(self, mask: np.ndarray, state: str = "edited") -> None:
        """A new revision after the current one; what could be redone goes, the oldest too."""
        if not self.revs:
            self.revs = {self.pos: self.plain}
        self.revs = {k: r for k, r in self.revs.items() if k <= self.pos}
        self.pos += 1
        self.revs[self.pos] = Rev(mask.copy(), state)
        self.revs = {k: r for k, r in self.revs.items() if k > self.pos - LIMIT}

    def undo(self) -> None:
        """One revision back, when one is kept."""
        if self.pos - 1 in self.revs:
            self.pos -= 1

    def redo(self) -> None:
        """One revision forward, when one is kept."""
        if self.pos + 1 in self.revs:
            self.pos += 1

    def set_state(self, state: str) -> None:
        """The current revision's state."""
        if self.revs:
            self.revs[self.pos] = Rev(self.revs[self.pos].mask, state)
        else:
            self.plain = Rev(self.plain.mask, state)

    def propose(self, mask: np.ndarray) -> bool:
        """A model's mask, unless a person worked on the image."""
        if self.revs or self.plain.state in ("edited", "reviewed"):
            return False
        self.plain = Rev(mask.copy(), "proposed")
        return True


def stroke(mask: np.ndarray, rect: tuple[int, int, int, int], value: int) -> None:
    """Paint a rectangle (the shape of a brush stroke's pixels does not matter here)."""
    x, y, w, h = rect
    mask[y : y + h, x : x + w] = value


def fill(mask: np.ndarray, point: tuple[int, int], value: int) -> tuple[int, int, int, int]:
    """Turn every pixel of the class under `point` into `value`; the whole mask's rectangle."""
    x, y = point
    mask[mask == mask[y, x]] = value
    return 0, 0, mask.shape[1], mask.shape[0]


def apply_to_oracle(oracle: dict[int, OracleImage], op: tuple) -> None:
    """One editing action (stroke, fill, undo, redo, review) on the oracle."""
    kind, image_id, *args = op
    image = oracle[image_id]
    if kind == "stroke":
        mask = image.shown().copy()
        stroke(mask, *args)
        image.edit(mask)
    elif kind == "fill":
        mask = image.shown().copy()
        fill(mask, *args)
        image.edit(mask)
    elif kind == "undo":
        image.undo()
    elif kind == "redo":
        image.redo()
    elif kind == "review":
        if image.current().mask is not None:
            image.set_state("reviewed")
        else:  # a reviewed image gets a mask file, even one all unlabelled
            image.edit(image.shown(), "reviewed")


def after(oracle: dict[int, OracleImage], ops: list[tuple]) -> dict[int, OracleImage]:
    """A copy of the oracle with `ops` applied."""
    result = copy.deepcopy(oracle)
    for op in ops:
        apply_to_oracle(result, op)
    return result


def clip(rect: tuple[int, int, int, int], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A rectangle cut to the image, at least one pixel."""
    x, y, w, h = rect
    x, y = min(x, shape[1] - 1), min(y, shape[0] - 1)
    return x, y, max(1, min(w, shape[1] - x)), max(1, min(h, shape[0] - y))


def make_data_folder(root) -> None:
    """Three small images (sizes SIZES) with tags, as a data folder."""
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = ["image,tags"]
    for k, (h, w) in enumerate(SIZES):
        pixels = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "images" / f"im{k}.png")
        rows.append(f"images/im{k}.png,{'a;b' if k % 2 else 'a'}")
    (root / "tags.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def store_disagrees(project, oracle: dict[int, OracleImage]) -> str | None:
    """Where the project's history, revisions and mask files differ from the oracle (or None).

    Checked: the revision numbers, the current one, every revision's mask and state (so no
    reviewed revision is ever lost), the mask file against the current revision (byte for byte),
    and the image's state.
    """
    for image_id, image in oracle.items():
        info = project.history(image_id)
        seqs = [r.seq for r in info.revisions]
        if set(seqs) != set(image.revs) or (image.revs and info.pos != image.pos):
            return f"image {image_id}: {seqs} at {info.pos}, oracle {sorted(image.revs)} at {image.pos}"
        stored = project._db.query(
            "SELECT seq, png, state FROM revisions WHERE image_id=?", (image_id,)
        )
        for row in stored:
            want = image.revs[row["seq"]]
            if row["state"] != want.state or not _same(_decoded(row["png"]), want.mask):
                return f"image {image_id}: revision {row['seq']} differs ({row['state']})"
        path = project.mask_path(project.image(image_id))
        on_disk = path.read_bytes() if path.is_file() else None
        if image.revs and on_disk != next(r["png"] for r in stored if r["seq"] == image.pos):
            return f"image {image_id}: the mask file is not the current revision {image.pos}"
        current = image.current()
        if not _same(_decoded(on_disk), current.mask):
            return f"image {image_id}: the mask file is not the oracle's current mask"
        if project.image(image_id).state != current.state:
            return (
                f"image {image_id}: state {project.image(image_id).state}, oracle {current.state}"
            )
    return None


_DECODED: dict[bytes, np.ndarray] = {}


def _decoded(png: bytes | None) -> np.ndarray | None:
    """A mask PNG decoded once (the checks see the same revisions step after step)."""
    if png is None:
        return None
    if png not in _DECODED:
        if len(_DECODED) > 5000:
            _DECODED.clear()
        _DECODED[png] = decode_mask(png, name="revision")
    return _DECODED[png]


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool((a == b).all())
