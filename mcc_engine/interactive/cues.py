"""The cues a proposal is made of, each a per-pixel log-odds map at the working resolution.

Also the pieces they are made of: sample histograms, the clicks' reach along the image (maps from
0 to 1) and the image's frame (a mask).
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np

from mcc_engine.interactive.evidence import COLOUR_LEVELS, ImageEvidence

Point = tuple[int, int]  # (x, y) at the working resolution

MAX_LOGIT: Final = 6.0  # the most any one cue may say; keeps one confident cue from deciding alone


def disc_mask(shape: tuple[int, int], points: list[Point], *, radius: int) -> np.ndarray:
    """A bool mask with a filled disc at every point."""
    out = np.zeros(shape, np.uint8)
    for x, y in points:
        cv2.circle(out, (int(x), int(y)), int(radius), 1, -1)
    return out.astype(bool)


def _histogram(
    bins: np.ndarray, where: np.ndarray, *, dims: tuple[int, ...], spread: bool
) -> np.ndarray:
    size = int(np.prod(dims))
    hist = np.bincount(bins[where], minlength=size).astype(np.float32).reshape(dims)
    # Neighbouring bins share mass: a few sampled pixels then stand for the shades around them.
    for axis in range(len(dims) if spread else 0):
        h = np.moveaxis(hist, axis, 0)
        padded = np.concatenate([np.zeros_like(h[:1]), h, np.zeros_like(h[:1])])
        hist = np.moveaxis((padded[:-2] + 2 * padded[1:-1] + padded[2:]) / 4, 0, axis)
    return hist.ravel() / max(1.0, float(hist.sum()))


def _background(
    bins: np.ndarray,
    bg: np.ndarray,
    clicked: np.ndarray | None,
    *,
    dims: tuple[int, ...],
    spread: bool,
) -> np.ndarray:
    """P(bin | background): the sampled background, and as much again the negative clicks' discs.

    One mixture, not two ratios averaged: a shade that no negative click touched is then judged
    against the whole background, and is not made foreground by every negative click elsewhere.
    """
    hist = _histogram(bins, bg, dims=dims, spread=spread)
    if clicked is not None and clicked.any():
        hist = 0.5 * hist + 0.5 * _histogram(bins, clicked, dims=dims, spread=spread)
    return hist


def _bin_log_ratio(
    bins: np.ndarray,
    *,
    fg: np.ndarray,
    bg: np.ndarray,
    clicked: np.ndarray | None,
    dims: tuple[int, ...],
    spread: bool,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per bin: log P(bin | fg) / P(bin | bg), and how much sample mass the bin holds.

    None where either sample is empty.
    """
    if not fg.any() or not bg.any():
        return None
    floor = 1e-5
    p_fg = _histogram(bins, fg, dims=dims, spread=spread)
    p_bg = _background(bins, bg, clicked, dims=dims, spread=spread)
    return np.log((p_fg + floor) / (p_bg + floor)), p_fg + p_bg + floor


def ratio_logit(
    bins: np.ndarray,
    *,
    fg: np.ndarray,
    bg: np.ndarray,
    clicked: np.ndarray | None = None,
    dims: tuple[int, ...],
    spread: bool = True,
) -> np.ndarray:
    """log P(bin | fg) / P(bin | bg) at every pixel, from bool masks of sample pixels.

    `clicked`, the negative clicks' discs, counts as much as all of `bg`. `spread`: the bins are
    ordered (shades), so each lends some mass to its neighbours.
    """
    found = _bin_log_ratio(bins, fg=fg, bg=bg, clicked=clicked, dims=dims, spread=spread)
    if found is None:
        return np.zeros(bins.shape, np.float32)
    return np.clip(found[0][bins], -MAX_LOGIT, MAX_LOGIT).astype(np.float32)


def colour_logit(
    ev: ImageEvidence, *, fg: np.ndarray, bg: np.ndarray, clicked: np.ndarray | None = None
) -> np.ndarray:
    """log P(colour | fg) / P(colour | bg) from bool masks of sample pixels (see ratio_logit)."""
    return ratio_logit(ev.bins, fg=fg, bg=bg, clicked=clicked, dims=(COLOUR_LEVELS,) * 3)


def prob_logit(
    prob: np.ndarray,
    *,
    fg: np.ndarray,
    bg: np.ndarray,
    clicked: np.ndarray | None = None,
    levels: int = 16,
) -> np.ndarray:
    """log P(model probability | fg) / P(... | bg): the model's say, calibrated on the samples.

    Learnt from the samples like the colour model, so a class map the clicks contradict (a young
    model's CAM lighting up the background) loses its say instead of fighting them; the ratio is
    kept non-decreasing in the probability (isotonic), so a model is never read backwards: a
    click where it is unsure does not make everything it is unsure about the object. `clicked`
    as in ratio_logit.
    """
    bins = np.minimum((prob * levels).astype(np.int32), levels - 1)
    found = _bin_log_ratio(bins, fg=fg, bg=bg, clicked=clicked, dims=(levels,), spread=True)
    if found is None:
        return np.zeros(prob.shape, np.float32)
    ratio = isotonic(found[0], weights=found[1])
    return np.clip(ratio[bins], -MAX_LOGIT, MAX_LOGIT).astype(np.float32)


def isotonic(values: np.ndarray, *, weights: np.ndarray) -> np.ndarray:
    """The weighted least-squares non-decreasing fit to values (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [weighted mean, weight, length]
    for v, w in zip(values.tolist(), weights.tolist()):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([np.full(int(n), v) for v, _, n in blocks])


def feature_logit(
    ev: ImageEvidence, *, positives: list[Point], negatives: list[Point], temperature: float = 0.1
) -> np.ndarray | None:
    """(max similarity to a positive click's token - max to a negative's) / temperature.

    The image's mean token always stands for the background too: a negative click on a part that
    looks like the object must not make the rest of the image look more like it. None without
    tokens.
    """
    if ev.tokens is None or not positives:
        return None
    d, th, tw = ev.tokens.shape
    h, w = ev.work_shape
    flat = ev.tokens.reshape(d, -1)

    def at(points: list[Point]) -> np.ndarray:
        idx = [min(th - 1, y * th // h) * tw + min(tw - 1, x * tw // w) for x, y in points]
        return flat[:, idx]

    pos = (at(positives).T @ flat).max(axis=0)
    mean = flat.mean(axis=1)
    neg = (mean / (np.linalg.norm(mean) + 1e-8)) @ flat
    if negatives:
        neg = np.maximum(neg, (at(negatives).T @ flat).max(axis=0))
    score = ((pos - neg) / temperature).reshape(th, tw).astype(np.float32)
    score = cv2.resize(score, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(score, -MAX_LOGIT, MAX_LOGIT)


def reach(ev: ImageEvidence, seeds: list[np.ndarray]) -> np.ndarray:
    """How far each seed mask's say spreads along the image (h, w, k), 1 where it is strongest.

    A click's say spreads through its region of the image and hardly across edges (a geodesic
    vote). All seeds go through the filter in one pass: its cost is in its sweeps, not the maps.
    """
    spread = np.maximum(ev.reach(np.stack(seeds, axis=-1)), 0)
    spread /= np.maximum(spread.max(axis=(0, 1)), 1e-12)
    return spread


def reach_logit(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """log(reach of the positive seeds / reach of the negative ones), two maps from reach().

    Where neither kind reaches, the cue is silent.
    """
    floor = 1e-3
    odds = np.log(positive + floor) - np.log(negative + floor)
    return np.clip(odds, -MAX_LOGIT, MAX_LOGIT).astype(np.float32)


def frame_mask(shape: tuple[int, int]) -> np.ndarray:
    """The image's outermost pixels (bool, h, w)."""
    out = np.zeros(shape, bool)
    out[0], out[-1], out[:, 0], out[:, -1] = True, True, True, True
    return out
