"""Seconds per training step: the faithful MCC formulation against the fast one, side by side.

Both run on the same inputs, seed and model in one process; the ratio is the speed-up. Phases:
'warm-up' (first 10% of iterations: no segmentation loss) and 'full' (every loss). The first
round is a warm-up and is not counted; of the rest the fastest is printed (other processes can
only add time, so the minimum is the steadiest estimate on a shared machine). The faithful and
the fast step alternate, so a load hits both alike; wall seconds and this process's CPU seconds
are both printed.
Run: python bench/train_step.py [--steps N] [--threads N] [--only TEXT]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcc_engine.method.config import MethodConfig
from mcc_engine.method.reference import reference_step
from mcc_engine.method.step import train_step
from mcc_engine.model.network import ModelConfig, build_model
from mcc_engine.train.config import PRESETS

_SMALL = {"embed_dim": 192, "depth": 6, "num_heads": 3, "patch_size": 8}
_CPU = PRESETS["cpu"]
# name: (model settings, crop, batch, method settings)
CASES = {
    f"cpu preset (ViT 192x6 patch 8, crop {_CPU['crop']}, batch {_CPU['batch']})": (
        {"backbone": _CPU["backbone"], **_CPU["model"]},
        _CPU["crop"],
        _CPU["batch"],
        _CPU["method"],
    ),
    "ViT 192x6 patch 8, crop 96, batch 4, paper heads": (
        {"backbone": "vit_small_patch16_224", "overrides": _SMALL},
        96,
        4,
        {},
    ),
    "deit_small_patch16_224, crop 224, batch 2": (
        {"backbone": "deit_small_patch16_224"},
        224,
        2,
        {},
    ),
    # The paper's configuration: the authors ran one image per GPU.
    "paper: deit_base_patch16_224, crop 448, batch 1": (
        {"backbone": "deit_base_patch16_224"},
        448,
        1,
        {},
    ),
}


def _batch(b: int, size: int, k: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "image": torch.randn(b, 3, size, size, generator=g),
        "global2": torch.randn(b, 3, size, size, generator=g),
        "local": torch.randn(b, 3, size, size, generator=g),
        # Two tags per image, as in real tag sets (VOC images carry 1.5 classes on average).
        "labels": torch.zeros(b, k).scatter_(
            1, torch.randperm(k, generator=g)[: 2 * b].view(b, 2), 1.0
        ),
        # The last image has black padding at the top and right, like a crop of a small image.
        "box": torch.tensor(
            [[0, 0, size, size]] * (b - 1) + [[size // 8, 0, size, size - size // 4]]
        ),
        "mask": torch.full((b, size, size), 255, dtype=torch.long),
        "has_mask": torch.zeros(b, dtype=torch.bool),
    }


def _step(fn, model, batch, step: int, seed: int, cfg: MethodConfig) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(
        model,
        batch,
        step=step,
        total_steps=100,
        cfg=cfg,
        generator=torch.Generator().manual_seed(seed),
    )
    out.loss.backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - wall, time.process_time() - cpu


def _compare(
    model, batch, step: int, steps: int, cfg: MethodConfig
) -> dict[str, tuple[float, float]]:
    """Fastest (wall, CPU) seconds of each step function; the two alternate, so load hits both."""
    times: dict[str, list[tuple[float, float]]] = {"faithful": [], "fast": []}
    for i in range(steps + 1):  # the first round warms caches and is not counted
        for name, fn in (("faithful", reference_step), ("fast", train_step)):
            measured = _step(fn, model, batch, step, i, cfg)
            if i:
                times[name].append(measured)
    return {
        name: (min(t[0] for t in runs), min(t[1] for t in runs)) for name, runs in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)  # steadier on a shared machine
    parser.add_argument("--only", help="run only the cases whose name contains this")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, best of {args.steps} steps")
    print(
        f"{'case':<56} {'phase':<8} {'faithful s':>10} {'fast s':>8} {'ratio':>6}"
        f" {'CPU: faithful s':>15} {'fast s':>8} {'ratio':>6}"
    )
    for name, (settings, crop, batch, method) in CASES.items():
        if args.only and args.only not in name:
            continue
        torch.manual_seed(0)
        model = build_model(ModelConfig(num_classes=20, **settings))
        data = _batch(batch, crop, 20)
        cfg = MethodConfig(**method)
        for phase, step in (("warm-up", 5), ("full", 50)):
            t = _compare(model, data, step, args.steps, cfg)
            (slow, slow_cpu), (fast, fast_cpu) = t["faithful"], t["fast"]
            print(
                f"{name:<56} {phase:<8} {slow:>10.2f} {fast:>8.2f} {slow / fast:>5.1f}x"
                f" {slow_cpu:>15.2f} {fast_cpu:>8.2f} {slow_cpu / fast_cpu:>5.1f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
