"""The losses of one MCC step, batched (method.md steps 6-10)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mcc_engine.data.masks import IGNORE


def mcc_loss(
    teacher: torch.Tensor,
    student: torch.Tensor,
    positive: torch.Tensor,
    *,
    temperature: float,
    cosine: bool = True,
) -> torch.Tensor:
    """Masked collaborative contrast over teacher (B, T, C) and student (B, V, C) embeddings.

    `positive` (B, V) marks the positive student views; the rest are negatives. With `cosine`
    the embeddings are L2-normalised before the dot product (a departure: the authors use the raw
    projector outputs, whose norms grow without bound on small from-scratch models); without it,
    the raw inner product of method.md. Either way the terms are computed in log space, so large
    similarities cannot overflow exp.
    """
    t, s = teacher.float(), student.float()
    if cosine:
        t, s = F.normalize(t, dim=-1), F.normalize(s, dim=-1)
    logit = torch.einsum("btc,bvc->btv", t, s) / temperature  # log s(t, v)
    pos = positive[:, None, :].expand_as(logit)
    # With r = the negatives' sum + 1e-4, each positive's -log(a / (a + r)) is softplus(log r -
    # log a) and the extra term log(1 + r) is softplus(log r): log1p-accurate, and no exp overflows.
    neg = torch.logsumexp(logit.masked_fill(pos, float("-inf")), dim=-1, keepdim=True)
    log_r = torch.logaddexp(neg, torch.full_like(neg, math.log(1e-4)))  # (B, T, 1)
    per_pos = F.softplus(log_r - logit) * pos.float()
    extra = F.softplus(log_r[..., 0])
    per_teacher = per_pos.sum(-1) + extra  # (B, T)
    n_pos = positive.float().sum(-1)  # (B,)
    per_image = per_teacher.sum(-1) / (teacher.shape[1] * n_pos)
    return per_image.mean()


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Multilabel soft-margin loss against the tags."""
    return F.multilabel_soft_margin_loss(logits.float(), labels)


def affinity_loss(tokens: torch.Tensor, token_labels: torch.Tensor) -> torch.Tensor:
    """ToCo's affinity loss on tokens (B, D, h, w) with labels (B, h, w) (255 = ignore).

    c_ij = |cos(F_i, F_j)| over labelled pairs i != j of one image: 0.5 (1 - mean c over same-label
    pairs) + 0.5 mean c over different-label pairs; a term with no pairs counts 0.
    """
    b, d = tokens.shape[:2]
    feats = F.normalize(tokens.float().reshape(b, d, -1), dim=1, eps=1e-8)
    cos = torch.bmm(feats.transpose(1, 2), feats).abs()
    lab = token_labels.reshape(b, -1)
    valid = lab != IGNORE
    pair_valid = valid[:, :, None] & valid[:, None, :]
    pair_valid &= ~torch.eye(lab.shape[1], dtype=torch.bool, device=lab.device)[None]
    same = lab[:, :, None] == lab[:, None, :]
    pos, neg = pair_valid & same, pair_valid & ~same
    pos_term = 1.0 - (cos * pos).sum() / pos.sum() if pos.any() else cos.new_zeros(())
    neg_term = (cos * neg).sum() / neg.sum() if neg.any() else cos.new_zeros(())
    return 0.5 * pos_term + 0.5 * neg_term


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of the cross-entropy over background pixels and over foreground pixels.

    `logits` (B, K+1, H, W) at the target's size; `target` (B, H, W) long with 255 ignored.
    """
    # One log-softmax serves both terms (each is the cross-entropy's mean over its pixels).
    logp = F.log_softmax(logits.float(), dim=1)
    nll = -logp.gather(1, target.masked_fill(target == IGNORE, 0)[:, None])[:, 0]
    terms = []
    for chosen in (target == 0, (target != 0) & (target != IGNORE)):
        count = int(chosen.sum())
        terms.append((nll * chosen).sum() / count if count else logp.sum() * 0.0)
    return 0.5 * (terms[0] + terms[1])
