"""Estimate the peak GPU memory of the `paper` preset (DeiT-B/16, crop 448, batch 4, bf16).

Method (no GPU here): run one fast training step on the CPU under bf16 autocast with batch 1 and
count the bytes of every tensor autograd saves for backward (saved_tensors_hooks), which is what
stays alive until backward; scale that by the batch; add parameters, gradients and AdamW's two
moments in fp32, and the largest no-grad pass (multi-scale CAM at 1.5x) as transient workspace.
Run: python bench/memory.py [--batch 4] [--crop 448]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcc_engine.method.config import MethodConfig
from mcc_engine.method.step import train_step
from mcc_engine.model.network import ModelConfig, build_model

GIB = 1024**3


def _batch(size: int, k: int = 20) -> dict[str, torch.Tensor]:
    labels = torch.zeros(1, k)
    labels[0, :2] = 1
    return {"image": torch.randn(1, 3, size, size), "global2": torch.randn(1, 3, size, size),
            "local": torch.randn(1, 3, size, size), "labels": labels,
            "box": torch.tensor([[0, 0, size, size]]),
            "mask": torch.full((1, size, size), 255, dtype=torch.long),
            "has_mask": torch.zeros(1, dtype=torch.bool)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--crop", type=int, default=448)
    args = parser.parse_args()
    model = build_model(ModelConfig(backbone="deit_base_patch16_224", num_classes=20))
    saved = 0
    seen: set[int] = set()

    def pack(t: torch.Tensor):
        nonlocal saved
        key = t.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            saved += t.untyped_storage().nbytes()
        return t

    with (
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        torch.autocast("cpu", dtype=torch.bfloat16),
    ):
        out = train_step(
            model, _batch(args.crop), step=10000, total_steps=20000, cfg=MethodConfig()
        )
    out.loss.backward()
    params = sum(p.numel() for p in model.parameters()) * 4
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad) * 4
    tokens = (int(args.crop * 1.5) // 16) ** 2 + 1
    workspace = 2 * args.batch * tokens * model.encoder.embed_dim * 2 * 12  # bf16 CAM pass at 1.5x
    activations = saved * args.batch
    total = params + trainable * 3 + activations + workspace
    print(
        f"paper preset estimate: deit_base_patch16_224, crop {args.crop}, batch {args.batch}, bf16"
    )
    print(
        f"  parameters {params / GIB:.2f} GiB, gradients + AdamW moments {3 * trainable / GIB:.2f} GiB"
    )
    print(
        f"  saved activations {saved / GIB:.2f} GiB per image x {args.batch} = {activations / GIB:.2f} GiB"
    )
    print(f"  no-grad CAM workspace about {workspace / GIB:.2f} GiB")
    print(f"  estimated peak {total / GIB:.2f} GiB = {total / (12 * GIB):.2f} of a 12 GB GPU")


if __name__ == "__main__":
    main()
