"""From the working resolution back to the image's: the fast guided filter (He and Sun, 2015).

A mask cut at the working resolution has blocky borders once enlarged. The guided filter fits the
mask locally as a linear function of the grey image; its coefficients are smooth, so they are
computed at the working resolution and only enlarged, and the full-resolution grey image then puts
the border back on the image's own edges. The full-resolution cost is two resizes and a few
element-wise operations.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np

from mcc_engine.interactive.evidence import ImageEvidence

RADIUS: Final = 2  # window radius at the working resolution
EPS: Final = 1e-3  # regulariser on grey values in [0, 1]: contrasts well above 0.03 are edges


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0


def to_full(ev: ImageEvidence, work: np.ndarray) -> np.ndarray:
    """The working-resolution mask `work` (bool, h, w) at the image's resolution (bool, H, W)."""
    height, width = ev.full_shape
    if work.shape == (height, width):
        return work.copy()
    if not work.any():
        return np.zeros((height, width), bool)
    box = (2 * RADIUS + 1, 2 * RADIUS + 1)
    guide = _grey(ev.small)
    p = work.astype(np.float32)
    mean_i = cv2.blur(guide, box)
    mean_p = cv2.blur(p, box)
    cov = cv2.blur(guide * p, box) - mean_i * mean_p
    var = cv2.blur(guide * guide, box) - mean_i * mean_i
    a = cov / (var + EPS)
    b = mean_p - a * mean_i
    size = (width, height)
    a = cv2.resize(cv2.blur(a, box), size, interpolation=cv2.INTER_LINEAR)
    b = cv2.resize(cv2.blur(b, box), size, interpolation=cv2.INTER_LINEAR)
    return (a * _grey(ev.image) + b) > 0.5
