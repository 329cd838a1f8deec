"""The colour wand: the connected pixels whose colour is within a tolerance of the clicked one."""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np

DEFAULT_TOLERANCE: Final = 24  # per RGB channel, out of 255 (image editors' usual 32 is coarse)


def colour_wand(
    image: np.ndarray,
    seed: tuple[int, int],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
) -> np.ndarray:
    """Pixels (bool, H, W) connected to seed (x, y) whose every channel is within the tolerance.

    The range is fixed at the seed's colour (not pixel to neighbour), so a slow gradient does not
    leak the region across the image; 4-connectivity keeps it from crossing one-pixel diagonals.
    """
    height, width = image.shape[:2]
    x, y = int(seed[0]), int(seed[1])
    if not (0 <= x < width and 0 <= y < height):
        return np.zeros((height, width), bool)
    tol = int(min(255, max(0, tolerance)))
    mask = np.zeros((height + 2, width + 2), np.uint8)
    flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    cv2.floodFill(np.ascontiguousarray(image), mask, (x, y), 0, (tol,) * 3, (tol,) * 3, flags)
    return mask[1:-1, 1:-1].astype(bool)
