"""The field's protocol for interactive segmentation: simulated clicks, IoU and NoC.

Each next click goes to the error pixel farthest from the border of its error region (a distance
transform over the missed and the false pixels, the image border counting as a border), positive
in a missed region and negative in a false one. NoC@t is the number of clicks until the IoU first
reaches t, the click budget where it never does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np

from mcc_engine.data.masks import IGNORE


def objects(truth: np.ndarray, *, min_area: int = 16) -> Iterator[tuple[int, np.ndarray]]:
    """(class, bool mask) of every connected region (8-connectivity) of one class in a true mask."""
    for cls in sorted(int(v) for v in np.unique(truth) if 0 < v < IGNORE):
        n, labels, stats, _ = cv2.connectedComponentsWithStats(
            (truth == cls).astype(np.uint8), connectivity=8
        )
        for i in range(1, n):
            if stats[i, cv2.CC_STAT_AREA] >= min_area:
                yield cls, labels == i


def iou(pred: np.ndarray, truth: np.ndarray, *, ignore: np.ndarray | None = None) -> float:
    """Intersection over union of two bool masks, pixels in `ignore` left out."""
    keep = np.ones_like(truth) if ignore is None else ~ignore
    union = ((pred | truth) & keep).sum()
    return float(((pred & truth) & keep).sum() / union) if union else 1.0


def _inner_distance(region: np.ndarray) -> np.ndarray:
    padded = np.pad(region.astype(np.uint8), 1)
    return cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]


def next_click(
    pred: np.ndarray, truth: np.ndarray, *, ignore: np.ndarray | None = None
) -> tuple[int, int, bool] | None:
    """(x, y, positive) of the protocol's next click, or None when nothing is wrong."""
    keep = np.ones_like(truth) if ignore is None else ~ignore
    missed = _inner_distance(truth & ~pred & keep)
    false = _inner_distance(pred & ~truth & keep)
    best_missed, best_false = float(missed.max()), float(false.max())
    if max(best_missed, best_false) <= 0:
        return None
    positive = best_missed >= best_false
    y, x = np.unravel_index(int(np.argmax(missed if positive else false)), truth.shape)
    return int(x), int(y), positive


def noc(ious: Sequence[float], threshold: float, *, budget: int) -> int:
    """Clicks until the IoU (one entry per click) first reaches threshold; budget if never."""
    for i, value in enumerate(ious[:budget]):
        if value >= threshold:
            return i + 1
    return budget


def brush_stroke(
    pred: np.ndarray, truth: np.ndarray, *, ignore: np.ndarray | None = None, size: int = 12
) -> bool:
    """One simulated brush stroke, in place: a straight line along the largest error region.

    The stroke passes through the protocol's next click point, along the error region's main axis,
    as far as its centre stays that deep inside the region (at most the brush radius); it paints
    the right label with the app's brush (a round-capped line `size` wide). False when nothing is
    wrong.
    """
    click = next_click(pred, truth, ignore=ignore)
    if click is None:
        return False
    x, y, positive = click
    keep = np.ones_like(truth) if ignore is None else ~ignore
    error = (truth & ~pred & keep) if positive else (pred & ~truth & keep)
    _, labels = cv2.connectedComponents(error.astype(np.uint8), connectivity=8)
    region = labels == labels[y, x]
    depth = _inner_distance(region)
    need = min(size / 2.0, float(depth[y, x]))
    ys, xs = np.nonzero(region)
    coords = np.stack([xs, ys], axis=1).astype(np.float64)
    coords -= coords.mean(axis=0)
    axis = np.linalg.eigh(coords.T @ coords)[1][:, -1] if len(coords) > 1 else np.array([1.0, 0])
    ends = []
    for sign in (1.0, -1.0):
        px, py = float(x), float(y)
        while True:
            nx, ny = px + sign * axis[0], py + sign * axis[1]
            ix, iy = round(nx), round(ny)
            inside = 0 <= ix < truth.shape[1] and 0 <= iy < truth.shape[0]
            if not inside or not region[iy, ix] or depth[iy, ix] < need:
                break
            px, py = nx, ny
        ends.append((round(px), round(py)))
    canvas = pred.astype(np.uint8)
    cv2.line(canvas, ends[0], ends[1], int(positive), max(1, size))
    for end in ends:
        cv2.circle(canvas, end, max(1, size // 2), int(positive), -1)
    pred[...] = canvas.astype(bool)
    return True
