"""The losses of one MCC step, batched (method.md steps 6-10)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mcc_engine.data.masks import IGNORE


def mcc_loss(
    teacher: torch.Tensor, student: torch.Tensor, positive: torch.Tensor, *, temperature: float
) -> torch.Tensor:
    """Masked collaborative contrast over teacher (B, T, C) and student (B, V, C) embeddings.

    `positive` (B, V) marks the positive student views; the rest are negatives. Embeddings are
    L2-normalised before the dot product: raw 1024-d projector outputs overflow exp at
    temperature 0.5 (ToCo's contrast loss normalises the same way).
    """
    t = F.normalize(teacher.float(), dim=-1)
    s = F.normalize(student.float(), dim=-1)
    sim = torch.exp(torch.einsum("btc,bvc->btv", t, s) / temperature)
    pos = positive[:, None, :].float()
    neg_sum = (sim * (1.0 - pos)).sum(-1, keepdim=True)  # (B, T, 1)
    per_pos = -torch.log(sim / (sim + neg_sum + 1e-4)) * pos
    extra = -torch.log(1.0 / (1.0 + neg_sum.squeeze(-1) + 1e-4))  # (B, T)
    per_teacher = per_pos.sum(-1) + extra
    n_pos = pos[:, 0].sum(-1)  # (B,)
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
