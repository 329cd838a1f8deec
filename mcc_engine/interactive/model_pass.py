"""The model's share of an image's evidence: class probabilities and token features, once per image.

The probabilities come from the segmentation head when it has learnt (softmax over background and
the allowed classes), from the CAMs otherwise (as the Predictor turns them into scores), and are
refined along the image's edges with PAR at the working resolution.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

import numpy as np
import torch
import torch.nn.functional as F

from mcc_engine.infer import INFER_CROPS, head_trained, training_crop
from mcc_engine.interactive.evidence import ImageEvidence, image_evidence, work_size
from mcc_engine.method.cam import multiscale_cams
from mcc_engine.method.par import par_refine
from mcc_engine.model.network import MCCNet
from mcc_engine.model.weights import load_run_checkpoint

# Long side the network sees in the first pass: the Predictor's, 2.5 training crops (the scale the
# model learnt; 160 px for `demo`), at most MODEL_SIDE so a big model's pass stays short.
MODEL_SIDE: Final = 384
PAR_SIDE: Final = 160  # PAR's size: the class maps are coarse, and PAR's cost grows with area
CAM_BACKGROUND: Final = 0.45  # background score against the [0, 1] CAMs (as the Predictor's)
CAM_SHARPNESS: Final = 0.1  # softmax temperature turning CAM scores into probabilities


@dataclass
class ClickModel:
    """A trained network ready for the first pass, with its classes and whether its head learnt."""

    model: MCCNet
    classes: list[str]
    head_trained: bool = True
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    side: int = MODEL_SIDE

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, device: str = "cpu") -> ClickModel:
        """Load a run's checkpoint (weights_only) for the interactive tools."""
        model, data = load_run_checkpoint(path)
        dev = torch.device(device)
        side = min(MODEL_SIDE, round(INFER_CROPS * training_crop(data, model)))
        return cls(model.eval().to(dev), list(data["classes"]), head_trained(data), dev, side)


def _input(model: MCCNet, image: np.ndarray, *, side: int, device: torch.device) -> torch.Tensor:
    height, width = image.shape[:2]
    p = model.patch_size
    scale = min(1.0, side / max(height, width))
    size = (max(p, round(height * scale / p) * p), max(p, round(width * scale / p) * p))
    x = torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None].float()
    x = F.interpolate(x / 255.0, size=size, mode="bilinear", align_corners=False)
    return (x - model.pixel_mean.view(1, 3, 1, 1)) / model.pixel_std.view(1, 3, 1, 1)


@torch.no_grad()
def model_evidence(
    net: ClickModel,
    image: np.ndarray,
    *,
    labels: Iterable[int] | None = None,
    base: ImageEvidence | None = None,
    side: int | None = None,
    source: str = "cam",
) -> ImageEvidence:
    """Image evidence plus the model's probabilities and token features (the first pass).

    `labels` (class indices 1..K, the image's tags when known) limits the probabilities to
    background and those classes; None allows every class. `source` is "cam" (the CAMs, as the
    Predictor's default: on the demo model they overlap the truth more than a young head does)
    or "seg" (the segmentation head, when it has learnt; the CAMs otherwise).
    """
    if source not in ("cam", "seg"):
        raise ValueError(f"unknown source {source!r}; use cam or seg")
    ev = base if base is not None else image_evidence(image)
    model, device = net.model.eval(), net.device
    k = model.cfg.num_classes
    x = _input(model, image, side=side or net.side, device=device)
    allowed = torch.ones(k + 1, dtype=torch.bool, device=device)
    if labels is not None:
        allowed[1:] = False
        allowed[[i for i in labels if 1 <= i <= k]] = True
    enc = model.encode(torch.cat([x, x.flip(-1)]))
    tokens = enc.tokens[:1] + enc.tokens[1:].flip(-1)
    if source == "seg" and net.head_trained:
        logits = model.decoder(enc.tokens)
        scores = (logits[:1] + logits[1:].flip(-1)) / 2
        scores = F.interpolate(scores, size=x.shape[-2:], mode="bilinear", align_corners=False)
        sharp = 1.0
    else:
        cam, _ = multiscale_cams(model, x, main_tokens=(enc.tokens[:1], enc.aux_tokens[:1]))
        scores = torch.cat([torch.full_like(cam[:, :1], CAM_BACKGROUND), cam], dim=1)
        sharp = CAM_SHARPNESS
    scores = scores.masked_fill(~allowed.view(1, -1, 1, 1), float("-inf"))
    probs = torch.softmax(scores.float() / sharp, dim=1)
    h, w = ev.work_shape
    ph, pw = work_size(h, w, PAR_SIDE)
    rgb = torch.from_numpy(ev.small).to(device).permute(2, 0, 1)[None].float()
    rgb = F.interpolate(rgb, size=(ph, pw), mode="area")
    probs = F.interpolate(probs, size=(ph, pw), mode="bilinear", align_corners=False)
    probs = F.interpolate(par_refine(rgb, probs), size=(h, w), mode="bilinear", align_corners=False)
    # PAR's weights sum to a little over 1 per pixel (its distance term), so its output does too.
    probs = probs / probs.sum(dim=1, keepdim=True).clamp_min(1e-8)
    # Contiguous copies: the flipped sums leave strided tensors, and every click reads these.
    feats = np.ascontiguousarray(F.normalize(tokens.float(), dim=1)[0].cpu().numpy())
    return replace(ev, probs=np.ascontiguousarray(probs[0].cpu().numpy()), tokens=feats)
