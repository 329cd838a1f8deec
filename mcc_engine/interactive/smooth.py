"""Edge-aware smoothing: the domain transform's recursive filter (Gastal and Oliveira, 2011).

A map is smoothed along rows and columns by a first-order recursive filter whose feedback falls
with the image's colour difference between neighbours: values spread freely inside a region of
one colour and hardly across an edge. The feedback coefficients depend only on the image, so they
are computed once per image; filtering a map then costs a few sweeps of vector operations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np

SIGMA_SPACE: Final = 0.04  # spatial reach, a share of the long side
SIGMA_RANGE: Final = 12.0  # colour difference (8-bit Lab, summed over channels) that halves reach
ITERATIONS: Final = 2
# Gaussian sigma (working pixels) of the blur the edges are read from. For a click's reach: grain
# would otherwise count as an edge between every two pixels and stop it within a few pixels. The
# proposal's own smoothing reads the sharp image (0): on the demo data it then keeps finer borders.
DENOISE: Final = 1.0


@dataclass(frozen=True)
class EdgeFilter:
    """Per-iteration feedback coefficients between horizontal and vertical neighbours."""

    across: tuple[np.ndarray, ...]  # (w - 1, h): between x and x + 1, stored transposed
    down: tuple[np.ndarray, ...]  # (h - 1, w): between y and y + 1

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """The map (h, w), or maps (h, w, k), smoothed along the image's edges (float32)."""
        out = values.astype(np.float32, copy=True)
        stacked = out.ndim == 3
        for across, down in zip(self.across, self.down):
            if stacked:  # one coefficient serves every map of the stack
                across, down = across[..., None], down[..., None]
            # Along x on the transpose, made contiguous: each step is then one row in memory.
            turned = np.ascontiguousarray(out.swapaxes(0, 1))
            _sweep(turned, across)
            out = np.ascontiguousarray(turned.swapaxes(0, 1))
            _sweep(out, down)
        return out


def _sweep(out: np.ndarray, coef: np.ndarray) -> None:
    """Forward and backward recursive pass along axis 0 of `out` (n, ...), in place."""
    step = np.empty(out.shape[1:], np.float32)
    for i in range(1, out.shape[0]):
        np.subtract(out[i - 1], out[i], out=step)
        step *= coef[i - 1]
        out[i] += step
    for i in range(out.shape[0] - 2, -1, -1):
        np.subtract(out[i + 1], out[i], out=step)
        step *= coef[i]
        out[i] += step


def edge_filter(
    lab: np.ndarray,
    *,
    sigma_space: float = SIGMA_SPACE,
    sigma_range: float = SIGMA_RANGE,
    iterations: int = ITERATIONS,
    denoise: float = DENOISE,
) -> EdgeFilter:
    """The filter for an image (Lab uint8, h, w, 3); sigma_space is a share of the long side."""
    img = lab.astype(np.float32)
    if denoise > 0:
        img = cv2.GaussianBlur(img, (0, 0), denoise)
    sigma_s = max(1.0, sigma_space * max(lab.shape[:2]))
    # Domain-transform distance between neighbours: 1 + (sigma_s / sigma_r) * colour difference.
    dx = 1.0 + sigma_s / sigma_range * np.abs(np.diff(img, axis=1)).sum(axis=2)
    dy = 1.0 + sigma_s / sigma_range * np.abs(np.diff(img, axis=0)).sum(axis=2)
    across, down = [], []
    for i in range(iterations):
        # Each iteration's sigma shrinks so that the passes together have variance sigma_s^2.
        sigma = sigma_s * math.sqrt(3) * 2 ** (iterations - i - 1) / math.sqrt(4**iterations - 1)
        a = math.exp(-math.sqrt(2) / sigma)
        across.append(np.ascontiguousarray((a**dx).T, dtype=np.float32))
        down.append(np.ascontiguousarray(a**dy, dtype=np.float32))
    return EdgeFilter(tuple(across), tuple(down))
