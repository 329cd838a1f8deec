"""Masked local views that run only their visible tokens, packed several to a sequence.

A view keeps CLS (and any other prefix tokens) and its visible patches. Rather than padding every
view to the longest one, consecutive views share a sequence and a block-diagonal attention mask
keeps them apart, so no work goes to hidden tokens and little to padding. Since hidden tokens are
never attended as keys, the CLS equals that of full-length masked attention (method.md).
"""

from __future__ import annotations

import torch


def pack_views(visible: torch.Tensor, n_prefix: int, capacity: int):
    """Lay the masked views out as a few packed sequences: (source index, view id, CLS position).

    `visible` (B, V, h, w). Each view contributes its prefix tokens and its visible patches, and
    about `capacity` tokens' worth of consecutive views share one sequence. Returns `source`
    (G, L) long, the index into an image's embedded sequence (prefix + h*w) of every slot, `owner`
    (G, L) long, the view (image * V + view) each slot belongs to, -1 for padding, and `cls_at`
    (B * V, 2), the (sequence, slot) of each view's CLS.
    """
    b, v = visible.shape[:2]
    vis = visible.flatten(2).reshape(b * v, -1)
    sizes = vis.sum(-1) + n_prefix
    per = max(1, min(b * v, capacity // max(1, int(sizes.float().mean().ceil()))))
    view = torch.arange(b * v, device=vis.device)
    group = view // per
    ends = sizes.cumsum(0)
    group_base = (ends - sizes)[group * per]
    starts = ends - sizes - group_base
    totals = torch.zeros(int(group[-1]) + 1, dtype=sizes.dtype, device=vis.device)
    totals.index_add_(0, group, sizes)
    length = int(totals.max())
    source = torch.zeros(len(totals), length, dtype=torch.long, device=vis.device)
    owner = torch.full_like(source, -1)
    slots = starts[:, None] + torch.arange(n_prefix, device=vis.device)
    rows = group[:, None].expand_as(slots)
    source[rows, slots] = torch.arange(n_prefix, device=vis.device).expand_as(slots)
    owner[rows, slots] = view[:, None].expand_as(slots)
    which, patch = vis.nonzero(as_tuple=True)
    rank = vis.cumsum(-1)[which, patch] - 1
    slots = starts[which] + n_prefix + rank
    source[group[which], slots] = patch + n_prefix
    owner[group[which], slots] = which
    return source, owner, torch.stack([group, starts], dim=-1)


def encode_visible_cls(
    model, images: torch.Tensor, visible: torch.Tensor, *, capacity: int | None = None
) -> torch.Tensor:
    """CLS (B, V, D) of masked views: each view runs CLS plus its visible tokens only.

    The short views are packed several to a sequence with a block-diagonal attention mask (a
    slot attends only the slots of its own view), so no compute goes to hidden tokens or to
    padding each view to the longest one; this gives the CLS that full-length masked attention
    gives. `capacity` (tokens per packed sequence, default the embedding width) bounds the
    attention work a pack wastes on the masked-out blocks.
    """
    tokens = model.embed(images)
    b, v = visible.shape[:2]
    d = tokens.shape[-1]
    source, owner, cls_at = pack_views(visible, model.num_prefix, capacity or d)
    image = owner.clamp(min=0) // v  # padding slots read image 0; the mask keeps them apart
    seq = tokens.reshape(-1, d)[image * tokens.shape[1] + source]  # (G, L, D)
    attn_mask = (owner[:, :, None] == owner[:, None, :])[:, None]
    final, _ = model.run_blocks(seq, attn_mask=attn_mask)
    return final[cls_at[:, 0], cls_at[:, 1]].reshape(b, v, d)
