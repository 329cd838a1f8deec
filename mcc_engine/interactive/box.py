"""Box to segment: OpenCV's GrabCut inside a dragged box, started from the model's probability.

GrabCut is the classic box tool; it is too slow to rerun after every click, so it only makes the
box's first proposal, at most GRABCUT_SIDE pixels on the long side, and clicks refine it with the
click-to-segment energy (its colour model sampled from this first proposal).
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np

from mcc_engine.interactive.evidence import ImageEvidence

GRABCUT_SIDE: Final = 192  # GrabCut's cost grows fast with size; the border is refined later
GRABCUT_ITERS: Final = 3


def box_mask(ev: ImageEvidence, box: tuple[float, float, float, float]) -> np.ndarray:
    """The box (x0, y0, x1, y1 in image pixels, any corner order) at the working resolution."""
    x0, y0 = ev.to_work(min(box[0], box[2]), min(box[1], box[3]))
    x1, y1 = ev.to_work(max(box[0], box[2]), max(box[1], box[3]))
    out = np.zeros(ev.work_shape, np.uint8)
    cv2.rectangle(out, (x0, y0), (x1, y1), 1, -1)
    return out.astype(bool)


def grabcut_box(ev: ImageEvidence, inside: np.ndarray, *, class_index: int) -> np.ndarray:
    """GrabCut's region (bool, h, w) inside the box mask `inside`.

    Outside the box is background for certain. Inside, with a model, pixels the model gives the
    class to at least even odds start as probable foreground and the others as probable
    background; without one, the whole box starts as probable foreground (GrabCut's own start).
    """
    h, w = ev.work_shape
    scale = min(1.0, GRABCUT_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    image = ev.small if scale == 1.0 else cv2.resize(ev.small, size, interpolation=cv2.INTER_AREA)

    def shrink(a: np.ndarray) -> np.ndarray:
        if scale == 1.0:
            return a
        return cv2.resize(a.astype(np.float32), size, interpolation=cv2.INTER_LINEAR) > 0.5

    box = shrink(inside)
    init = np.where(box, cv2.GC_PR_FGD, cv2.GC_BGD).astype(np.uint8)
    prob = ev.class_prob(class_index)
    if prob is not None:
        likely = shrink(prob >= 0.5) & box
        # A model that sees nothing of the class in the box gives no start: use GrabCut's own.
        if likely.any():
            init[box & ~likely] = cv2.GC_PR_BGD
    if not (init == cv2.GC_BGD).any() or not box.any():
        return inside.copy()  # a box over the whole image: nothing to learn the background from
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(image, init, None, bgd, fgd, GRABCUT_ITERS, cv2.GC_INIT_WITH_MASK)
    region = ((init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)).astype(np.float32)
    if scale != 1.0:
        region = cv2.resize(region, (w, h), interpolation=cv2.INTER_LINEAR)
    return (region > 0.5) & inside
