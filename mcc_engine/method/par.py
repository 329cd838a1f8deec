"""Pixel-adaptive refinement (PAR): propagate a class map along image edges, batched."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

# The 8 neighbours in row-major order around the centre; diagonals lie sqrt(2) further away.
_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def dilated_neighbours(x: torch.Tensor, dilations: Sequence[int]) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, 8 * len(dilations), H, W) with replicate padding."""
    height, width = x.shape[-2:]
    far = max(dilations)
    padded = F.pad(x, (far, far, far, far), mode="replicate")
    out = []
    for d in dilations:
        for dy, dx in _OFFSETS:
            y, x0 = far + dy * d, far + dx * d
            out.append(padded[..., y : y + height, x0 : x0 + width])
    return torch.stack(out, dim=2)


def _distances(dilations: Sequence[int], device: torch.device) -> torch.Tensor:
    per = [math.sqrt(2.0) if dy and dx else 1.0 for dy, dx in _OFFSETS]
    return torch.tensor([p * d for d in dilations for p in per], device=device)


def par_affinity(
    images: torch.Tensor,
    *,
    dilations: Sequence[int] = (1, 2, 4, 8, 12, 24),
    w1: float = 0.3,
    w2: float = 0.01,
) -> torch.Tensor:
    """Neighbour weights (B, 1, N, H, W) from appearance and distance; each pixel's sum is 1 + w2."""
    neighbours = dilated_neighbours(images, dilations)
    # (|I_p - I_n| / (std + 1e-8) / w1)^2 written as one scale per pixel and channel; the std is
    # two-pass (mean, then squared deviations): the same value as Tensor.std over the strided
    # neighbour axis, several times faster.
    mean = neighbours.mean(dim=2, keepdim=True)
    var = (neighbours - mean).square_().sum(dim=2, keepdim=True) / (neighbours.shape[2] - 1)
    scale = ((var.sqrt_() + 1e-8) * w1).square_().reciprocal_()
    aff = (neighbours - images.unsqueeze(2)).square_().mul_(scale).mean(dim=1, keepdim=True).neg_()
    dist = _distances(dilations, images.device)
    pos = -((dist / (dist.std() + 1e-8) / w1) ** 2)
    pos = F.softmax(pos, dim=0).view(1, 1, -1, 1, 1)
    return F.softmax(aff, dim=2) + w2 * pos


def par_refine(
    images: torch.Tensor,
    probs: torch.Tensor,
    *,
    dilations: Sequence[int] = (1, 2, 4, 8, 12, 24),
    iters: int = 10,
) -> torch.Tensor:
    """Refine class maps (B, C, h, w) along the edges of images (B, 3, H, W), any value range.

    The step passes denormalised 0-255 images, as the authors do; since colour differences are
    divided by the neighbours' std, [0, 1] images give the same result. The maps are resized to
    the images' size first (bilinear, align_corners=True); the result has the images' size.
    """
    if probs.shape[-2:] != images.shape[-2:]:
        probs = F.interpolate(probs, size=images.shape[-2:], mode="bilinear", align_corners=True)
    aff = par_affinity(images.float(), dilations=dilations)[:, 0]  # (B, N, H, W)
    height, width = probs.shape[-2:]
    far = max(dilations)
    for _ in range(iters):
        # One padding at the largest dilation serves every neighbour (replicate padding by d is
        # the centre of replicate padding by `far`); accumulating neighbour by neighbour instead
        # of stacking all shifted copies gives the same sums with a fraction of the memory traffic.
        padded = F.pad(probs, (far, far, far, far), mode="replicate")
        out = torch.zeros_like(probs)
        n = 0
        for d in dilations:
            for dy, dx in _OFFSETS:
                y, x = far + dy * d, far + dx * d
                out.addcmul_(padded[..., y : y + height, x : x + width], aff[:, n : n + 1])
                n += 1
        probs = out
    return probs
