"""What only a GPU can check, as one short script for a session that is lent a GPU machine.

1. The `paper` preset's step (DeiT-B/16, crop 448, batch 4, mixed precision): seconds per step
   and peak memory (the target: it fits a 12 GB GPU), and fp32 (--no-amp) beside it.
2. The `gpu` preset trained for a few hundred steps on the demo data (ImageNet weights cannot be
   fetched from an offline machine, so from scratch unless --weights FILE), then the mIoU.
3. Proposing masks: images per second for 512-pixel images.
4. DDP with NCCL: two processes on the GPUs there are (one GPU: both ranks share it).

Every part prints one line of numbers; a part that fails prints its error and the rest go on.
    python bench/gpu_check.py [--steps 300] [--parts 1 2 3 4] [--device cuda]
`--device cpu --steps 2` runs the same code on the CPU (slow, for checking the script only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcc_engine.method.config import MethodConfig
from mcc_engine.method.step import train_step
from mcc_engine.model.network import ModelConfig, build_model
from mcc_engine.train.config import PRESETS
from mcc_engine.train.device import setup_device

ROOT = Path(__file__).resolve().parents[1]


def _batch(size: int, b: int, k: int, device) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    labels = torch.zeros(b, k)
    labels[:, :2] = 1
    batch = {
        "image": torch.randn(b, 3, size, size, generator=g),
        "global2": torch.randn(b, 3, size, size, generator=g),
        "local": torch.randn(b, 3, size, size, generator=g),
        "labels": labels,
        "box": torch.tensor([[0, 0, size, size]] * b),
        "mask": torch.full((b, size, size), 255, dtype=torch.long),
        "has_mask": torch.zeros(b, dtype=torch.bool),
    }
    return {k: v.to(device) for k, v in batch.items()}


def paper_step(device: str, steps: int) -> None:
    """Seconds per step and peak memory of the paper preset, with and without AMP."""
    preset = PRESETS["paper"]
    for amp in (True, False):
        dev = setup_device(device, amp=amp)
        torch.manual_seed(0)
        model = build_model(ModelConfig(backbone=preset["backbone"], num_classes=20)).to(dev.device)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=6e-5)
        batch = _batch(preset["crop"], preset["batch"], 20, dev.device)
        cfg = MethodConfig(**preset["method"])
        if dev.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        times = []
        for i in range(max(3, min(steps, 20))):
            if dev.device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            with dev.autocast():
                out = train_step(model, batch, step=5000, total_steps=20000, cfg=cfg)
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            optimizer.step()
            if dev.device.type == "cuda":
                torch.cuda.synchronize()
            if i:
                times.append(time.perf_counter() - start)
        peak = torch.cuda.max_memory_allocated() / 2**30 if dev.device.type == "cuda" else 0.0
        print(
            json.dumps(
                {
                    "part": "paper step",
                    "amp": amp,
                    "seconds_per_step": min(times),
                    "peak_gib": round(peak, 2),
                    "fits_12gb": peak < 11.5,
                }
            ),
            flush=True,
        )
        del model, optimizer
        if dev.device.type == "cuda":
            torch.cuda.empty_cache()


def _mcc(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mcc_engine.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-1500:])
    return done.stdout


def gpu_training(device: str, steps: int, work: Path, weights: str | None) -> None:
    """The gpu preset for `steps` iterations on the demo data, then mIoU of both sources."""
    data, run = work / "demo", work / "gpu-run"
    if not (data / "tags.csv").exists():
        _mcc("demo", "--out", str(data))
    start = time.perf_counter()
    _mcc(
        "train",
        "--data",
        str(data),
        "--out",
        str(run),
        "--preset",
        "gpu",
        "--iters",
        str(steps),
        "--device",
        device,
        "--weights",
        weights or "none",
        "--save-every",
        "1000",
    )
    seconds = time.perf_counter() - start
    result = {"part": "gpu preset", "steps": steps, "seconds": round(seconds, 1)}
    for source in ("seg", "cam"):
        pred = work / f"pred-{source}"
        start = time.perf_counter()
        _mcc(
            "infer",
            "--checkpoint",
            str(run / "last.pt"),
            "--data",
            str(data),
            "--out",
            str(pred),
            "--source",
            source,
            "--device",
            device,
        )
        result[f"infer_{source}_images_per_s"] = round(320 / (time.perf_counter() - start), 2)
        scores = json.loads(
            _mcc("eval", "--pred", str(pred), "--gt", str(data / "ground_truth"), "--json")
        )
        result[f"miou_{source}"] = round(scores["miou"], 4)
    print(json.dumps(result), flush=True)


def proposal_speed(device: str) -> None:
    """Images per second of the model's proposal path on 512-pixel images (demo preset model)."""
    from mcc_engine.infer import Predictor

    dev = setup_device(device, amp=False)
    preset = PRESETS["demo"]
    model = build_model(ModelConfig(backbone=preset["backbone"], num_classes=4, **preset["model"]))
    predictor = Predictor(model.to(dev.device).eval(), ["a", "b", "c", "d"], dev.device)
    image = (torch.rand(512, 512, 3) * 255).to(torch.uint8).numpy()
    predictor.predict(image, [1, 2])
    start = time.perf_counter()
    for _ in range(5):
        predictor.predict(image, [1, 2])
    rate = 5 / (time.perf_counter() - start)
    print(json.dumps({"part": "proposals 512 px", "images_per_s": round(rate, 2)}), flush=True)


def ddp_nccl(device: str, work: Path) -> None:
    """Two ranks through torchrun: NCCL on CUDA (gloo on the CPU), identical weights after."""
    data = work / "demo"
    if not (data / "tags.csv").exists():
        _mcc("demo", "--out", str(data))
    run = work / "ddp-run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "-m",
        "mcc_engine.cli",
        "train",
        "--data",
        str(data),
        "--out",
        str(run),
        "--preset",
        "tiny",
        "--iters",
        "20",
        "--device",
        device,
    ]
    start = time.perf_counter()
    done = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    ok = done.returncode == 0 and (run / "last.pt").exists()
    print(
        json.dumps(
            {
                "part": "ddp",
                "ok": ok,
                "seconds": round(time.perf_counter() - start, 1),
                "backend": "nccl" if device.startswith("cuda") else "gloo",
                "stderr_tail": "" if ok else done.stderr[-800:],
            }
        ),
        flush=True,
    )


def main() -> None:
    """Command line: run the parts asked for, each isolated from the others' failures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--parts", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--weights", help="a local ImageNet state dict for the gpu preset")
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu-check-"))
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA"
    print(json.dumps({"device": name, "torch": torch.__version__}), flush=True)
    parts = {
        1: lambda: paper_step(args.device, args.steps),
        2: lambda: gpu_training(args.device, args.steps, work, args.weights),
        3: lambda: proposal_speed(args.device),
        4: lambda: ddp_nccl(args.device, work),
    }
    for part in args.parts:
        try:
            parts[part]()
        except Exception:  # one failing part must not hide the others' numbers
            print(json.dumps({"part": part, "error": traceback.format_exc()[-1500:]}), flush=True)


if __name__ == "__main__":
    main()
