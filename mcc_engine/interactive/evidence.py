"""What one image offers the interactive tools, computed once per image (the "first pass").

Every tool works at a working resolution (the long side at most WORK_SIDE): the cost of a click
then follows that size, not the image's. The image's own evidence is its colour (CIE Lab, also
quantised into histogram bins); a model adds each class's probability and its token features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np

from mcc_engine.interactive.smooth import EdgeFilter, edge_filter

WORK_SIDE: Final = 320  # long side of the working resolution; smaller images keep their size
COLOUR_LEVELS: Final = 16  # histogram levels per Lab channel (16^3 bins)
REACH_SPACE: Final = 0.15  # a click's spatial reach, a share of the long side
REACH_RANGE: Final = 12.0  # colour difference (summed 8-bit Lab) that halves a click's reach


@dataclass
class ImageEvidence:
    """An image at the working resolution with its colour, and the model's view when there is one.

    `probs` (C, h, w) holds background and the classes 1..K as probabilities at the working size;
    `tokens` (D, th, tw) the encoder's L2-normalised token features. Both are None without a model.
    """

    image: np.ndarray  # the full-resolution RGB image (kept for edge-aware upsampling)
    small: np.ndarray  # RGB uint8 (h, w, 3) at the working resolution
    lab: np.ndarray  # Lab uint8 (h, w, 3), OpenCV's 8-bit scaling
    bins: np.ndarray  # int32 (h, w) colour-histogram bin of every pixel
    smoother: EdgeFilter  # edge-aware smoothing along this image's edges
    reach: EdgeFilter  # the same with a long reach: how far a click's say spreads
    probs: np.ndarray | None = None
    tokens: np.ndarray | None = None

    @property
    def full_shape(self) -> tuple[int, int]:
        """(height, width) of the image."""
        return self.image.shape[0], self.image.shape[1]

    @property
    def work_shape(self) -> tuple[int, int]:
        """(height, width) at the working resolution."""
        return self.small.shape[0], self.small.shape[1]

    def to_work(self, x: float, y: float) -> tuple[int, int]:
        """An image point (x, y) in full-resolution pixels -> (x, y) at the working resolution."""
        (height, width), (h, w) = self.full_shape, self.work_shape
        wx = min(w - 1, max(0, int((x + 0.5) * w / width)))
        wy = min(h - 1, max(0, int((y + 0.5) * h / height)))
        return wx, wy

    def class_prob(self, class_index: int) -> np.ndarray | None:
        """The model's probability (h, w) of one class (1..K), or None without a model."""
        if self.probs is None or not 0 < class_index < len(self.probs):
            return None
        return self.probs[class_index]


def work_size(height: int, width: int, side: int = WORK_SIDE) -> tuple[int, int]:
    """(h, w) of the working resolution for an image of that size."""
    scale = min(1.0, side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def image_evidence(image: np.ndarray, *, side: int = WORK_SIDE) -> ImageEvidence:
    """The image-only evidence of an RGB uint8 image (H, W, 3): no model needed."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    h, w = work_size(*image.shape[:2], side)
    small = (
        image
        if (h, w) == image.shape[:2]
        else cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    )
    small = np.ascontiguousarray(small)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)
    step = 256 // COLOUR_LEVELS
    q = (lab // step).astype(np.int32)
    bins = (q[..., 0] * COLOUR_LEVELS + q[..., 1]) * COLOUR_LEVELS + q[..., 2]
    return ImageEvidence(
        image=image,
        small=small,
        lab=lab,
        bins=bins,
        smoother=edge_filter(lab, denoise=0),
        reach=edge_filter(lab, sigma_space=REACH_SPACE, sigma_range=REACH_RANGE, iterations=1),
    )
