"""The regulariser of method.md step 10: a dense-CRF energy in pure PyTorch.

The authors (ToCo's DenseEnergyLoss, scale factor 0.5) filter the segmentation softmax S, masked
to the real-pixel box, at half resolution with a compiled permutohedral bilateral filter and take
loss = -weight * sum_k S_k^T W S_k / B, with W_ij = exp(-|I_i - I_j|^2 / 2 sigma_rgb^2
- |p_i - p_j|^2 / 2 (sigma_xy / 2)^2) between half-resolution pixels (colours 0-255).

Approximation, named here because it departs from the authors: the half-resolution image and
probabilities are average-pooled further to at most `grid` x `grid` cells (default 32), W is
computed exactly and densely between the cell centres and mean colours, and the energy is scaled
by the squared pixel area of a cell so its magnitude matches the per-pixel sum. With sigma_xy 100
the spatial kernel is wide, so what the pooling loses is the colour detail inside a cell.
Differentiable and batched; no compiled extension.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def crf_energy_loss(
    images: torch.Tensor,
    probs: torch.Tensor,
    valid: torch.Tensor,
    *,
    sigma_rgb: float,
    sigma_xy: float,
    weight: float,
    grid: int,
) -> torch.Tensor:
    """-weight * sum_k S_k^T W S_k / B over images (B, 3, H, W) 0-255 and probabilities (B, C, H, W).

    `valid` (B, H, W) is the real-pixel box; `sigma_xy` is in full-resolution pixels.
    """
    b, _, height, width = probs.shape
    half = (height / 2.0, width / 2.0)
    size = (min(grid, max(1, round(half[0]))), min(grid, max(1, round(half[1]))))
    cell_area = (half[0] / size[0]) * (half[1] / size[1])
    weights = F.adaptive_avg_pool2d(valid.float()[:, None], size)
    img = F.adaptive_avg_pool2d(images.float(), size)
    seg = F.adaptive_avg_pool2d(probs.float(), size) * weights
    ys, xs = torch.meshgrid(
        torch.arange(size[0], device=probs.device, dtype=torch.float32) * (half[0] / size[0]),
        torch.arange(size[1], device=probs.device, dtype=torch.float32) * (half[1] / size[1]),
        indexing="ij",
    )
    # The authors pass sigma_xy * scale_factor to the half-resolution filter.
    pos = torch.stack([ys.flatten(), xs.flatten()], dim=-1) / (0.5 * sigma_xy)
    col = img.flatten(2).transpose(1, 2) / sigma_rgb  # (B, N, 3)
    # Squared distances as |a|^2 + |b|^2 - 2 a.b, written in place into one (B, N, N) buffer;
    # the position term is the same for every image.
    sq = col.square().sum(-1)
    dist = torch.baddbmm(sq[:, :, None] + sq[:, None, :], col, col.transpose(1, 2), alpha=-2.0)
    pos_sq = pos.square().sum(-1)
    dist.clamp_(min=0.0).add_(
        torch.addmm(pos_sq[:, None] + pos_sq[None, :], pos, pos.T, alpha=-2.0).clamp_(min=0.0)
    )
    # exp is many times slower on large negative arguments (its underflow path); below -80 the
    # kernel is < 2e-35, nothing next to the diagonal's 1, so the argument is clamped there.
    kernel = dist.mul_(-0.5).clamp_(min=-80.0).exp_()
    s = seg.flatten(2)  # (B, C, N)
    energy = (torch.bmm(s, kernel) * s).sum() * cell_area**2
    return -weight * energy / b
