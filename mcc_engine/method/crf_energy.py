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
    # The authors pass sigma_xy * scale_factor to the half-resolution filter. Features are
    # centred (distances do not change) so the expansion below keeps its float precision.
    pos = torch.stack([ys.flatten(), xs.flatten()], dim=-1) / (0.5 * sigma_xy)
    pos = (pos - pos.mean(dim=0))[None].expand(b, -1, -1)
    col = img.flatten(2).transpose(1, 2) / sigma_rgb  # (B, N, 3)
    feats = torch.cat([col - col.mean(dim=1, keepdim=True), pos], dim=-1)
    # -|f_i - f_j|^2 / 2 = f_i.f_j - |f_i|^2 / 2 - |f_j|^2 / 2: one batched product of augmented
    # features gives every exponent, with no (B, N, N) temporaries.
    half_sq = -0.5 * feats.square().sum(-1, keepdim=True)
    ones = torch.ones_like(half_sq)
    with torch.autocast(probs.device.type, enabled=False):  # exponents need float32
        exponent = torch.bmm(torch.cat([feats, half_sq, ones], -1),
                             torch.cat([feats, ones, half_sq], -1).transpose(1, 2))  # fmt: skip
    # exp is many times slower on large negative arguments (its underflow path); below -80 the
    # kernel is < 2e-35, nothing next to the diagonal's 1, so the argument is clamped there.
    kernel = exponent.clamp_(min=-80.0, max=0.0).exp_()
    s = seg.flatten(2)  # (B, C, N)
    # W is symmetric, so d(s W s^T)/ds = 2 s W: computing s W once without a graph and writing the
    # energy as 2 <sW, s> - <sW, s> (no gradient through the second) gives that gradient and the
    # energy's value without the second product autograd would otherwise run.
    sw = torch.bmm(s.detach(), kernel)
    energy = (2.0 * (sw * s).sum() - (sw * s.detach()).sum()) * cell_area**2
    return -weight * energy / b
