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
    cosine: bool = False,
) -> torch.Tensor:
    """Masked collaborative contrast over teacher (B, T, C) and student (B, V, C) embeddings.

    `positive` (B, V) marks the positive student views; the rest are negatives. The authors' loss:
    for each teacher t, -log(s / (s + N_t + 1e-4)) over the positives plus one more term
    -log(1 / (1 + N_t + 1e-4)) (their for-else), summed over t, divided by T and by (#positives +
    1e-4), then the mean over images; s = exp(<t, v> / temperature) of the raw projector outputs.
    With `cosine` the outputs are L2-normalised first (a departure, named in the presets). The
    terms are computed in log space, so large similarities cannot overflow exp.
    """
    t, s = teacher.float(), student.float()
    if cosine:
        t, s = F.normalize(t, dim=-1), F.normalize(s, dim=-1)
    logit = torch.einsum("btc,bvc->btv", t, s) / temperature  # log s(t, v)
    pos = positive.bool()[:, None, :].expand_as(logit)
    # With r = the negatives' sum + 1e-4, each positive's -log(a / (a + r)) is softplus(log r -
    # log a) and the extra term log(1 + r) is softplus(log r): log1p-accurate, and no exp overflows.
    neg = torch.logsumexp(logit.masked_fill(pos, float("-inf")), dim=-1, keepdim=True)
    log_r = torch.logaddexp(neg, torch.full_like(neg, math.log(1e-4)))  # (B, T, 1)
    per_pos = F.softplus(log_r - logit).masked_fill(~pos, 0.0)
    extra = F.softplus(log_r[..., 0])
    per_teacher = per_pos.sum(-1) + extra  # (B, T)
    n_pos = positive.float().sum(-1)  # (B,)
    per_image = per_teacher.sum(-1) / teacher.shape[1] / (n_pos + 1e-4)
    return per_image.mean()


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Multilabel soft-margin loss against the tags."""
    return F.multilabel_soft_margin_loss(logits.float(), labels)


def affinity_pairs(token_labels: torch.Tensor) -> torch.Tensor:
    """(B, N, N) long pair labels of tokens (B, h, w): 1 same label, 0 different, 255 ignored.

    A pair is ignored when either token is 255 or on the diagonal (the authors' label_to_aff_mask).
    """
    lab = token_labels.reshape(token_labels.shape[0], -1)
    pairs = (lab[:, :, None] == lab[:, None, :]).long()
    ignored = (lab == IGNORE)[:, :, None] | (lab == IGNORE)[:, None, :]
    ignored |= torch.eye(lab.shape[1], dtype=torch.bool, device=lab.device)[None]
    return pairs.masked_fill(ignored, IGNORE)


def affinity_loss(
    tokens: torch.Tensor, token_labels: torch.Tensor, *, per_image: bool = True
) -> torch.Tensor:
    """ToCo's affinity loss on tokens (B, D, h, w) with labels (B, h, w) (255 = ignore).

    With c_ij = |cos(F_i, F_j)| over labelled pairs: 0.5 (1 - sum c over same-label pairs /
    (count + 1)) + 0.5 sum c over different-label pairs / (count + 1). `per_image` takes the mean
    of each image's loss (the authors ran one image per GPU); otherwise the sums and counts are
    pooled over the batch, as their function does for a batch on one device.
    """
    b, d = tokens.shape[:2]
    feats = F.normalize(tokens.float().reshape(b, d, -1), dim=1, eps=1e-8)
    cos = torch.bmm(feats.transpose(1, 2), feats).abs()
    pairs = affinity_pairs(token_labels)
    pos, neg = (pairs == 1).float(), (pairs == 0).float()
    dims = (1, 2) if per_image else (0, 1, 2)
    pos_term = 1.0 - (cos * pos).sum(dims) / (pos.sum(dims) + 1)
    neg_term = (cos * neg).sum(dims) / (neg.sum(dims) + 1)
    return (0.5 * pos_term + 0.5 * neg_term).mean()


def segmentation_loss(
    logits: torch.Tensor, target: torch.Tensor, *, per_image: bool = True
) -> torch.Tensor:
    """Mean of the cross-entropy over background pixels and over foreground pixels.

    `logits` (B, K+1, H, W) at the target's size; `target` (B, H, W) long with 255 ignored. Each
    term averages over its own pixels: per image and then over images with `per_image` (the
    authors' one image per GPU), or pooled over the batch (their function on one device). A term
    with no pixel counts 0; the authors' gives NaN there, which would poison the step.
    """
    # One log-softmax serves both terms (each is the cross-entropy's mean over its pixels).
    logp = F.log_softmax(logits.float(), dim=1)
    nll = -logp.gather(1, target.masked_fill(target == IGNORE, 0)[:, None])[:, 0]
    dims = (1, 2) if per_image else (0, 1, 2)
    terms = []
    for chosen in (target == 0, (target != 0) & (target != IGNORE)):
        count = chosen.sum(dims)
        total = (nll * chosen).sum(dims)
        terms.append(torch.where(count > 0, total / count.clamp(min=1), total * 0.0))
    return (0.5 * (terms[0] + terms[1])).mean()
