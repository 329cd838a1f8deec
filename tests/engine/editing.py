"""What the editing state machines share: the plain oracle, an editor, and killed writers.

The oracle knows nothing of patches, PNGs or SQL: whole masks per image and a pointer, as a
person would describe the history. The editor edits a project as the window does, through one
`MaskHistory` per image. A writer is a forked process that edits and dies by SIGKILL.
"""

from __future__ import annotations

import copy
import os
import select
import signal
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from PIL import Image

from mcc_engine.data.masks import decode_mask
from mcc_engine.project.database import Database
from mcc_engine.project.history import MaskHistory
from mcc_engine.project.store import Project

IGNORE = 255
LIMIT = 5  # revisions kept per image in the machines: old ones are dropped often
SIZES = ((9, 12), (14, 10), (16, 16))  # (height, width) of the machines' images


# What the machines draw: an image (index), a class value, a rectangle, a point, an op.
IMAGES = st.integers(0, len(SIZES) - 1)
VALUES = st.sampled_from([0, 1, 2, 3, 255])
RECTS = st.tuples(st.integers(0, 15), st.integers(0, 15), st.integers(1, 8), st.integers(1, 8))
POINTS = st.tuples(st.integers(0, 15), st.integers(0, 15))
OPS = st.one_of(
    st.tuples(st.just("stroke"), IMAGES, RECTS, VALUES),
    st.tuples(st.just("fill"), IMAGES, POINTS, VALUES),
    st.tuples(st.sampled_from(["undo", "redo", "review"]), IMAGES),
)


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


def resolve(op: tuple, ids: list[int]) -> tuple:
    """An op drawn with an image index and any rectangle or point, made an op on an image id
    whose rectangle or point lies inside that image."""
    kind, k, *args = op
    shape = SIZES[k]
    if kind == "stroke":
        args = [clip(args[0], shape), args[1]]
    elif kind == "fill":
        args = [(min(args[0][0], shape[1] - 1), min(args[0][1], shape[0] - 1)), args[1]]
    return (kind, ids[k], *args)


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


class Editor:
    """What a window does with a project: a history per image it has shown, edits through them."""

    def __init__(self, project: Project, ids: list[int]) -> None:
        self.project, self.ids = project, ids
        self.histories: dict[int, MaskHistory] = {}

    def history(self, image_id: int) -> MaskHistory:
        """The image's history, read from the project the first time."""
        if image_id not in self.histories:
            shape = SIZES[self.ids.index(image_id)]
            info = self.project.history(image_id)
            mask = self.project.load_mask(image_id)
            self.histories[image_id] = MaskHistory(info, mask, shape=shape, sink=self.project)
        return self.histories[image_id]

    def apply(self, op: tuple) -> None:
        """One editing action, as the canvas and the window's keys do it."""
        kind, image_id, *args = op
        history = self.history(image_id)
        if kind in ("stroke", "fill"):
            before = history.mask.copy()
            if kind == "stroke":
                stroke(history.mask, *args)
                rect = args[0]
            else:
                rect = fill(history.mask, *args)
            x, y, w, h = rect
            history.commit(rect, before[y : y + h, x : x + w])
        elif kind == "undo":
            history.undo()
        elif kind == "redo":
            history.redo()
        elif kind == "review":
            if history.has_mask:
                history.set_state("reviewed")
            else:
                history.commit_whole(state="reviewed")


def open_project(root: Path) -> Project:
    """Open a machine's project, keeping LIMIT revisions per image."""
    project = Project.open(root)
    project.revisions.limit = LIMIT
    return project


def run_and_kill(root: Path, ids: list[int], batch: list[tuple], kill_at: int) -> tuple[int, bool]:
    """Fork a writer that applies `batch` and dies by SIGKILL at its `kill_at`-th file or database
    call (or after the last op); returns (ops started, all finished)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer: never returns into the test
        try:
            os.close(read)
            _writer(root, ids, batch, kill_at, write)
        except BaseException:
            os.write(write, f"error {traceback.format_exc()}\n".encode())
            os._exit(70)
    os.close(write)
    output = b""
    while True:  # the pipe ends when the writer does
        ready, _, _ = select.select([read], [], [], 60)
        chunk = os.read(read, 65536) if ready else None
        if chunk is None:
            os.kill(pid, signal.SIGKILL)
        if not chunk:
            break
        output += chunk
    os.close(read)
    _, status = os.waitpid(pid, 0)
    text = output.decode()
    assert chunk is not None, f"the writer hung: {text}"
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, text
    lines = text.split()
    return lines.count("op"), "all" in lines


def _writer(root: Path, ids: list[int], batch: list[tuple], kill_at: int, out: int) -> None:
    """In the forked writer: count file and database calls, die by SIGKILL at the chosen one."""
    calls = [0]

    def counted(real):
        def call(*args, **kwargs):
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        return call

    os.replace, os.fsync, os.unlink = counted(os.replace), counted(os.fsync), counted(os.unlink)
    Database.query = counted(Database.query)
    editor = Editor(open_project(root), ids)
    for op in batch:
        os.write(out, b"op\n")
        editor.apply(op)
    os.write(out, b"all\n")
    os.kill(os.getpid(), signal.SIGKILL)
