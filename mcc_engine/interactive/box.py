"""GrabCut as the tools use it, and the box tool: GrabCut in a dragged box, started from the model.

OpenCV's GrabCut (a graph cut on colour models with contrast-sensitive edges) took 0.1 to 0.5 s
per run on a whole 192 to 320 px image on a shared two-core machine, so it runs on a crop around
the object, at most GRABCUT_SIDE pixels long; the working-resolution smoothing and the guided
upsampling put the border back on the image's edges. The box's first proposal is GrabCut's, started from the
model's probability inside the box; clicks then refine it like any proposal, with the box's
proposal as their first colour sample.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np

from mcc_engine.interactive.evidence import ImageEvidence

GRABCUT_SIDE: Final = 160  # its share of a click's 150 ms budget on a 1-megapixel image
BOX_SIDE: Final = 192  # a box is cut once, so it can afford more detail than a click
GRABCUT_ITERS: Final = 3
CROP_MARGIN: Final = 0.25  # GrabCut's margin around the object, a share of the long side


def box_mask(ev: ImageEvidence, box: tuple[float, float, float, float]) -> np.ndarray:
    """The box (x0, y0, x1, y1 in image pixels, any corner order) at the working resolution."""
    x0, y0 = ev.to_work(min(box[0], box[2]), min(box[1], box[3]))
    x1, y1 = ev.to_work(max(box[0], box[2]), max(box[1], box[3]))
    out = np.zeros(ev.work_shape, np.uint8)
    cv2.rectangle(out, (x0, y0), (x1, y1), 1, -1)
    return out.astype(bool)


def grabcut(
    ev: ImageEvidence,
    *,
    fixed_fg: np.ndarray,
    fixed_bg: np.ndarray,
    likely: np.ndarray,
    around: np.ndarray | None = None,
    iters: int = GRABCUT_ITERS,
    side: int = GRABCUT_SIDE,
) -> np.ndarray:
    """OpenCV's GrabCut (bool, h, w) around the likely foreground, from working-size masks.

    `fixed_fg` / `fixed_bg` are certain, `likely` the probable foreground (the rest probable
    background). GrabCut runs on the box around `around` (by default the likely and fixed
    foreground) with a margin,
    at most `side` pixels long: its cost follows the object, and its background colours are
    the object's surroundings. Outside that box is background. Shrunk, a certain pixel stays
    certain wherever it covers any of a small pixel.
    """
    h, w = ev.work_shape
    ys, xs = np.nonzero(likely | fixed_fg if around is None else around)
    if len(ys) == 0:
        return likely.copy()
    margin = max(8, round(CROP_MARGIN * max(h, w)))
    y0, y1 = max(0, int(ys.min()) - margin), min(h, int(ys.max()) + margin + 1)
    x0, x1 = max(0, int(xs.min()) - margin), min(w, int(xs.max()) + margin + 1)
    crop = (slice(y0, y1), slice(x0, x1))
    ch, cw = y1 - y0, x1 - x0
    scale = min(1.0, side / max(ch, cw))
    size = (max(1, round(cw * scale)), max(1, round(ch * scale)))
    image = np.ascontiguousarray(ev.small[crop])
    if scale != 1.0:
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)

    def shrink(a: np.ndarray, *, threshold: float) -> np.ndarray:
        if scale == 1.0:
            return a[crop]
        return (
            cv2.resize(a[crop].astype(np.float32), size, interpolation=cv2.INTER_AREA) > threshold
        )

    init = np.where(shrink(likely, threshold=0.5), cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    init[shrink(fixed_bg, threshold=0)] = cv2.GC_BGD
    init[shrink(fixed_fg, threshold=0)] = cv2.GC_FGD
    foreground = (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)
    if foreground.all() or not foreground.any():
        return likely.copy()  # GrabCut fits one colour model to each side: both must exist
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut starts its colour models with k-means: same input, same result
    cv2.grabCut(image, init, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    cut = ((init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)).astype(np.float32)
    if scale != 1.0:
        cut = cv2.resize(cut, (cw, ch), interpolation=cv2.INTER_LINEAR)
    region = np.zeros((h, w), bool)
    region[crop] = cut > 0.5
    return region


def grabcut_box(ev: ImageEvidence, inside: np.ndarray, *, class_index: int) -> np.ndarray:
    """GrabCut's region (bool, h, w) inside the box mask `inside`.

    Outside the box is background for certain. Inside, with a model, pixels the model gives the
    class to at least even odds start as probable foreground and the others as probable
    background; without one, the whole box starts as probable foreground (GrabCut's own start).
    """
    likely = inside
    prob = ev.class_prob(class_index)
    # A model that sees nothing of the class in the box gives no start: use GrabCut's own.
    if prob is not None and (inside & (prob >= 0.5)).any():
        likely = inside & (prob >= 0.5)
    none = np.zeros_like(inside)
    # The whole image around the box teaches GrabCut the background (once per box, so affordable).
    everywhere = np.ones_like(inside)
    region = grabcut(
        ev, fixed_fg=none, fixed_bg=~inside, likely=likely, around=everywhere, side=BOX_SIDE
    )
    return region & inside
