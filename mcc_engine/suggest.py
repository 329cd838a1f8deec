"""Tag suggestions from a trained model: the classifier's score for each class of an image.

The scores are the sigmoid of `MCCNet.classify` (the image-level head the tags train), with the
image shrunk as proposals see it (INFER_CROPS x the training crop on its longer side). They are
suggestions: the app shows them and a person accepts them; nothing here writes tags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mcc_engine.data.images import read_image
from mcc_engine.errors import Cancelled, InputError
from mcc_engine.infer import INFER_CROPS, threads_for, torch_threads
from mcc_engine.model.network import MCCNet
from mcc_engine.model.weights import load_run_checkpoint
from mcc_engine.train.device import pick_device


@torch.no_grad()
def suggest_tags(model: MCCNet, image: np.ndarray, *, side: int) -> np.ndarray:
    """K scores in [0, 1] for an RGB image (H x W x 3 uint8): entry k-1 is class k."""
    height, width = image.shape[:2]
    p = model.patch_size
    scale = min(1.0, side / max(height, width))  # only ever shrunk, as proposals are
    size = (max(p, round(height * scale / p) * p), max(p, round(width * scale / p) * p))
    if scale < 1.0:
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    device = model.pixel_mean.device
    x = torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None].float()
    x = x / 255.0
    if x.shape[-2:] != size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    x = (x - model.pixel_mean.view(1, 3, 1, 1)) / model.pixel_std.view(1, 3, 1, 1)
    logits = model.classify(model.encode(x).tokens)
    return torch.sigmoid(logits)[0].float().cpu().numpy()


@dataclass
class SuggestResult:
    """The model's class names and each image's scores in their order; images not read."""

    classes: list[str]
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def suggest_folder(
    *,
    checkpoint: str | Path,
    root: str | Path,
    images: list[str],
    device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SuggestResult:
    """Scores of images (paths relative to `root`) from a run's checkpoint.

    An image that cannot be read is named in `skipped`, not fatal. Raises Cancelled, keeping
    the result so far, when `should_stop()` turns true.
    """
    model, data = load_run_checkpoint(checkpoint)
    crop = (data.get("train_config") or {}).get("crop") or data["model_config"].get("img_size")
    model = model.eval().to(pick_device(device))
    result = SuggestResult(classes=list(data["classes"]))
    side = round(INFER_CROPS * int(crop))
    # Small inputs run on one thread: their many short operations lose more to thread hand-offs
    # than they gain (100 demo images: 3.1 s on one thread, 34 s on two of a busy machine).
    with torch_threads(threads_for(side)):
        for done, rel in enumerate(images, start=1):
            if should_stop is not None and should_stop():
                raise Cancelled(f"stopped after {done - 1} images", kept=result)
            try:
                result.scores[rel] = suggest_tags(model, read_image(Path(root) / rel), side=side)
            except InputError:
                result.skipped.append(rel)
            if progress is not None:
                progress(done, len(images))
    return result
