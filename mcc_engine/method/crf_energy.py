"""The regulariser of method.md step 10: the authors' gated dense-CRF energy, in pure PyTorch.

The authors (ToCo's get_energy_loss and DenseEnergyLoss, after rloss) work at half resolution:
the 0-255 image (nearest), the softmax S (bilinear), the real-pixel box (nearest) and the
pseudo-label (nearest), each scaled by 0.5 with `recompute_scale_factor`. S is zeroed outside the
box; the gate G = box - max_k S_k is set to 1 where the label is 255 and clamped at 0; W is the
permutohedral-lattice bilateral filter (`permutohedral.py`, features x, y / (sigma_xy * 0.5) and
RGB / sigma_rgb), which is about 0.55x the exact Gaussian and is kept as they ran it. Then

    energy = -weight * sum (S * box) * G * W(S * box) / B,

and its gradient with respect to the half-resolution S is taken as -2 weight G W(S * box) box / B,
the gate held constant (the authors' backward); autograd carries it through the downscale and the
softmax. The authors return shape (1,); this returns a 0-d tensor of the same value.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mcc_engine.data.masks import IGNORE
from mcc_engine.method.permutohedral import bilateral_filter


class _GatedEnergy(torch.autograd.Function):
    """-sum S G W(S) / B with the authors' backward -2 G W(S) box / B (the gate a constant)."""

    @staticmethod
    def forward(ctx, seg, image, roi, gate, sigma_rgb, sigma_xy):
        masked = seg.detach().float() * roi[:, None]
        gated = bilateral_filter(image, masked, sigma_rgb=sigma_rgb, sigma_xy=sigma_xy)
        gated.mul_(gate[:, None])
        batch = seg.shape[0]
        ctx.save_for_backward(gated * roi[:, None] * (-2.0 / batch))
        return -(masked * gated).sum() / batch

    @staticmethod
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        return grad * grad_output, None, None, None, None, None


def _half(x: torch.Tensor, scale: float, **kwargs) -> torch.Tensor:
    """F.interpolate by `scale` as the authors call it (sizes floor(H * scale))."""
    return F.interpolate(x, scale_factor=scale, recompute_scale_factor=True, **kwargs)


def crf_energy_loss(
    images: torch.Tensor,
    probs: torch.Tensor,
    labels: torch.Tensor,
    roi: torch.Tensor,
    *,
    sigma_rgb: float,
    sigma_xy: float,
    weight: float,
    scale: float = 0.5,
) -> torch.Tensor:
    """The authors' gated energy (0-d) of softmax `probs` (B, C, H, W) on 0-255 `images`.

    `labels` (B, H, W) are the pseudo-labels (255 = ignore, where the gate is 1); `roi` (B, H, W)
    is the real-pixel box; `sigma_xy` is in full-resolution pixels (scaled with the image).
    """
    if min(probs.shape[-2:]) * scale < 1:
        raise ValueError(f"an image of {tuple(probs.shape[-2:])} has no pixel at scale {scale}")
    # Under mixed precision everything here stays float32: autocast would run the bilinear
    # downscale and the lattice's sparse products in half precision (or refuse them).
    with torch.autocast(probs.device.type, enabled=False):
        image_half = _half(images.float(), scale)
        seg_half = _half(probs.float(), scale, mode="bilinear", align_corners=False)
        roi_half = _half(roi.float()[:, None], scale)[:, 0]
        ignore_half = _half((labels == IGNORE).float()[:, None], scale)[:, 0] > 0.5
        with torch.no_grad():
            gate = roi_half - seg_half.max(dim=1).values
            gate = gate.masked_fill(ignore_half, 1.0).clamp_(min=0.0)
        energy = _GatedEnergy.apply(
            seg_half, image_half, roi_half, gate, sigma_rgb, sigma_xy * scale
        )
    return weight * energy
