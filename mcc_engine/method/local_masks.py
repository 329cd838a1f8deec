"""Masks of the local views and their positive / negative flags (method.md step 3)."""

from __future__ import annotations

import torch


def sample_visible(
    batch: int,
    *,
    n_views: int,
    grid: tuple[int, int],
    cell: int = 4,
    hide_probability: float = 0.95,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """(B, V, h, w) bool, True where a patch stays visible.

    Cells of `cell` x `cell` patches are hidden together, each with `hide_probability`: one
    Bernoulli draw per cell, image by image and view by view, which is the authors' order (a
    generator seeded as theirs gives their masks). The coarse grid is rounded up and cropped
    back, so token grids that are not multiples of `cell` (crop 224 gives 14) work too.
    """
    h, w = grid
    gh, gw = -(-h // cell), -(-w // cell)
    odds = torch.full((batch, n_views, gh, gw), float(hide_probability))
    visible = (torch.bernoulli(odds, generator=generator) == 0).to(device)
    visible = visible.repeat_interleave(cell, dim=2).repeat_interleave(cell, dim=3)
    return visible[:, :, :h, :w]


def roi_levels(cam: torch.Tensor, labels: torch.Tensor, *, low: float, high: float) -> torch.Tensor:
    """(B, h, w) in {0, 1, 2}: the tagged classes' max CAM, 0 at or below low, 2 at or above high."""
    roi = (cam * labels[:, :, None, None]).max(dim=1).values
    levels = torch.ones_like(roi)
    levels[roi <= low] = 0
    levels[roi >= high] = 2
    return levels


def view_flags(visible: torch.Tensor, levels: torch.Tensor, *, ratio: float = 0.2) -> torch.Tensor:
    """(B, V) bool, True for a positive view: its visible ROI levels sum above ratio x count."""
    weights = visible.float()
    roi_sum = (weights * levels[:, None]).flatten(2).sum(-1)
    count = weights.flatten(2).sum(-1)
    return roi_sum > ratio * count
