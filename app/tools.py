"""Editing tools as pure functions on numpy masks (no Qt); each returns the dirty rectangle."""

from __future__ import annotations

import math

import cv2
import numpy as np

Rect = tuple[int, int, int, int]  # x, y, width, height


def _clip(x0: int, y0: int, x1: int, y1: int, shape: tuple[int, int]) -> Rect | None:
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(shape[1], x1), min(shape[0], y1)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def brush(
    mask: np.ndarray, start: tuple[float, float], end: tuple[float, float], *, size: int, value: int
) -> Rect | None:
    """Paint a round-capped line of width `size` from start to end (x, y) with `value`, in place."""
    radius = max(1, size) / 2.0
    # The pixel under the cursor is the one whose square holds the point: floor, not round
    # (rounding put a click on pixel 0's right half onto pixel 1, visible when zoomed in).
    x0, y0 = (math.floor(v) for v in start)
    x1, y1 = (math.floor(v) for v in end)
    r = int(np.ceil(radius))
    rect = _clip(
        min(x0, x1) - r, min(y0, y1) - r, max(x0, x1) + r + 1, max(y0, y1) + r + 1, mask.shape
    )
    if rect is None:
        return None
    x, y, w, h = rect
    # Work on the dirty window only: cost follows the brush, not the image size.
    window = np.ascontiguousarray(mask[y : y + h, x : x + w])
    thickness = max(1, round(2 * radius))
    cv2.line(window, (x0 - x, y0 - y), (x1 - x, y1 - y), int(value), thickness)
    if thickness > 2:  # round caps
        cv2.circle(window, (x0 - x, y0 - y), int(radius), int(value), -1)
        cv2.circle(window, (x1 - x, y1 - y), int(radius), int(value), -1)
    mask[y : y + h, x : x + w] = window
    return rect


def fill_polygon(mask: np.ndarray, points: list[tuple[float, float]], *, value: int) -> Rect | None:
    """Fill the polygon through `points` (x, y) with `value`, in place."""
    if len(points) < 3:
        return None
    pts = np.round(np.asarray(points, np.float64)).astype(np.int32)
    cv2.fillPoly(mask, [pts], int(value))
    return _clip(
        int(pts[:, 0].min()),
        int(pts[:, 1].min()),
        int(pts[:, 0].max()) + 1,
        int(pts[:, 1].max()) + 1,
        mask.shape,
    )


def flood_fill(mask: np.ndarray, seed: tuple[int, int], *, value: int) -> Rect | None:
    """Give the connected same-class region at seed (x, y) the class `value` (4-connectivity)."""
    x, y = seed
    if not (0 <= x < mask.shape[1] and 0 <= y < mask.shape[0]) or mask[y, x] == value:
        return None
    flags = 4 | cv2.FLOODFILL_FIXED_RANGE
    _, _, _, rect = cv2.floodFill(mask, None, (int(x), int(y)), int(value), 0, 0, flags)
    return tuple(int(v) for v in rect)


def replace_class(mask: np.ndarray, old: int, new: int) -> Rect | None:
    """Turn every pixel of class `old` into `new`, in place."""
    hit = mask == old
    if not hit.any():
        return None
    mask[hit] = new
    ys, xs = np.nonzero(hit)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)
