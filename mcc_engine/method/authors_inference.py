"""The authors' two inference paths, as their tools compute them (method.md, "Pseudo-masks").

(a) `authors_cam`: their pseudo-label tool (tools/infer_cam.py): the input resized to a square
(448 px in their tool), the multi-scale CAM at scales 1.0, 0.5, 1.5 with flips, resized back, and
background where the largest tagged CAM is at most 0.5; no PAR.
(b) `authors_seg`: their segmentation tool (tools/infer_seg_voc.py): for scales 1.0, 1.5, 1.25,
the logits of the image plus the mirrored logits of its flip (a sum), upsampled bilinearly to the
image, then the maximum over scales and the argmax. `AUTHORS_CRF` are the settings of the dense
CRF their tools apply to its softmax.

Both take a model and normalised input tensors (B, 3, H, W) and return the arrays the c12 golden
file names. Scaled sizes are int(side * scale), as theirs are, not rounded to the patch size; the
network reads the whole patches of them, as their patch convolution does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import torch
import torch.nn.functional as F

from mcc_engine.method.cam import cam_to_mask, multiscale_cams

SEG_SCALES: Final = (1.0, 1.5, 1.25)
CAM_SCALES: Final = (1.0, 0.5, 1.5)
CAM_SIZE: Final = 448  # their tool's square; for our models the Predictor passes the training crop
BACKGROUND: Final = 0.5


@dataclass
class SegOutputs:
    """`seg_per_scale` (S, B, K+1, H, W) flip sums, `seg_logits` their max, `seg_pred` argmax."""

    seg_per_scale: torch.Tensor
    seg_logits: torch.Tensor
    seg_pred: torch.Tensor


@dataclass
class CamOutputs:
    """CAMs (B, K, H, W) in [0, 1], not multiplied by the tags, and their labels (B, H, W)."""

    cam: torch.Tensor
    cam_aux: torch.Tensor
    cam_label: torch.Tensor
    cam_aux_label: torch.Tensor


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


@torch.no_grad()
def authors_seg(model, inputs: torch.Tensor, *, scales: Sequence[float] = SEG_SCALES) -> SegOutputs:
    """The segmentation head as the authors' tool runs it: flip SUM per scale, MAX over scales.

    The network reads the whole patches of each int(side * scale) input, as their patch
    convolution does (MCCNet.embed drops the rest).
    """
    b, _, height, width = inputs.shape
    per_scale = []
    for scale in scales:
        x = _resize(inputs, (int(height * scale), int(width * scale)))
        logits = _resize(model.seg_logits(torch.cat([x, x.flip(-1)])), (height, width))
        per_scale.append(logits[:b] + logits[b:].flip(-1))
    stacked = torch.stack(per_scale)
    logits = stacked.max(dim=0).values
    return SegOutputs(seg_per_scale=stacked, seg_logits=logits, seg_pred=logits.argmax(dim=1))


@torch.no_grad()
def authors_cam(
    model,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    *,
    size: int = CAM_SIZE,
    scales: Sequence[float] = CAM_SCALES,
    background: float = BACKGROUND,
) -> CamOutputs:
    """Their CAM pseudo-label tool: resize to size x size, multi-scale CAM, back to H x W, label."""
    height, width = inputs.shape[-2:]
    cam, cam_aux = multiscale_cams(model, _resize(inputs, (size, size)), scales=scales)
    cam, cam_aux = _resize(cam, (height, width)), _resize(cam_aux, (height, width))
    labels = labels.to(cam.dtype)
    return CamOutputs(
        cam=cam,
        cam_aux=cam_aux,
        cam_label=cam_to_mask(cam, labels, background=background),
        cam_aux_label=cam_to_mask(cam_aux, labels, background=background),
    )
