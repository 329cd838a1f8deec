"""AdamW with the paper's groups, linear warm-up and polynomial decay."""

from __future__ import annotations

import torch
from torch.optim.lr_scheduler import LambdaLR

PAPER_ITERS = 20000
PAPER_WARMUP = 1500


def warmup_steps(total: int) -> int:
    """1,500 warm-up steps for the paper's 20k; shorter runs keep the same fraction (7.5%)."""
    return max(1, min(PAPER_WARMUP, round(total * PAPER_WARMUP / PAPER_ITERS)))


def lr_factor(
    step: int, *, total: int, warmup: int, start_ratio: float = 1e-6, power: float = 0.9
) -> float:
    """Multiplier of the base learning rate before optimizer step `step` (0-based).

    The authors' PolyWarmupAdamW: 1 - (1 - t / warmup)(1 - start_ratio) during the warm-up, then
    (1 - t / total) ** power measured from t = 0, so the rate drops at the end of the warm-up
    (from 0.9993 to 0.9323 of the base at 1,500 of 20,000) rather than restarting the decay.
    """
    if step < warmup:
        return 1.0 - (1.0 - step / warmup) * (1.0 - start_ratio)
    return max(0.0, 1.0 - step / total) ** power


def make_optimizer(model, *, lr: float, weight_decay: float = 0.01) -> torch.optim.AdamW:
    """AdamW: the encoder at lr, the classifiers, decoder and projector at 10 x lr."""
    encoder, heads = model.param_groups()
    return torch.optim.AdamW(
        [{"params": encoder, "lr": lr}, {"params": heads, "lr": 10 * lr}],
        lr=lr,
        weight_decay=weight_decay,
        betas=(0.9, 0.999),
    )


def make_scheduler(optimizer, *, total: int) -> LambdaLR:
    """The warm-up plus poly-decay schedule as a LambdaLR (saved and restored with the run)."""
    warmup = warmup_steps(total)
    return LambdaLR(optimizer, lambda step: lr_factor(step, total=total, warmup=warmup))
