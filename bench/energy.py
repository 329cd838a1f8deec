"""Seconds of the energy regulariser (forward + backward) at the training crops, and its lattice.

Cases: crop 448 (half resolution 224 x 224, 21 channels, batch 4: the paper's VOC setting) and
crop 96 (48 x 48, 5 channels, batch 8: the cpu preset). Two images each: uniform noise (every
pixel a new colour: the largest lattice) and a smooth scene with edges and mild noise (closer to
a photograph). Printed: the fastest of --repeats rounds (other processes only add time), the
lattice's build and one filtering alone, the vertices per image and per half-resolution pixel.
Times are this process's CPU milliseconds (the fewest of the rounds, after one warm-up round).
Run: python bench/energy.py [--threads N] [--repeats N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcc_engine.method.crf_energy import crf_energy_loss
from mcc_engine.method.permutohedral import bilateral_features, build_lattice

CASES = {"crop 448, 21 classes, batch 4": (448, 21, 4), "crop 96, 5 classes, batch 8": (96, 5, 8)}


def _image(kind: str, b: int, size: int, g: torch.Generator) -> torch.Tensor:
    """(B, 3, S, S) 0-255: 'noise' (uniform) or 'scene' (gradients, two discs, noise 8)."""
    if kind == "noise":
        return torch.randint(0, 256, (b, 3, size, size), generator=g).float()
    t = torch.linspace(0, 1, size)
    ys, xs = torch.meshgrid(t, t, indexing="ij")
    base = torch.stack([200 * xs + 30, 150 * ys + 50, 120 * (1 - xs) + 60])[None].repeat(b, 1, 1, 1)
    for cy, cx, rad, colour in ((0.3, 0.4, 0.2, (220, 40, 40)), (0.7, 0.6, 0.25, (30, 90, 200))):
        disc = ((ys - cy) ** 2 + (xs - cx) ** 2) < rad**2
        base[:, :, disc] = torch.tensor(colour, dtype=torch.float32)[None, :, None]
    return (base + 8 * torch.randn(base.shape, generator=g)).clamp(0, 255)


def _best(fn, repeats: int) -> float:
    """This process's CPU seconds of fn, the fewest of `repeats` runs (with one thread, wall
    time on a shared machine also counts the waits for a core)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), best of {args.repeats}")
    for name, (crop, c, b) in CASES.items():
        for kind in ("noise", "scene"):
            g = torch.Generator().manual_seed(0)
            images = _image(kind, b, crop, g)
            logits = torch.randn(b, c, crop, crop, generator=g, requires_grad=True)
            labels = torch.randint(0, c, (b, crop, crop), generator=g)
            labels[:, : crop // 4] = 255
            roi = torch.ones(b, crop, crop, dtype=torch.bool)
            roi[:, :, crop - crop // 8 :] = False

            def step(logits=logits, images=images, labels=labels, roi=roi):
                loss = crf_energy_loss(
                    images,
                    logits.softmax(dim=1),
                    labels,
                    roi,
                    sigma_rgb=15.0,
                    sigma_xy=100.0,
                    weight=1e-7,
                )
                loss.backward()

            half = images[:, :, ::2, ::2]
            feats = bilateral_features(half, sigma_rgb=15.0, sigma_xy=50.0)
            lattice = build_lattice(feats)
            values = torch.rand(feats.shape[0] * feats.shape[1], c, generator=g)
            total = _best(step, args.repeats)
            build = _best(lambda f=feats: build_lattice(f), args.repeats)
            filt = _best(lambda lat=lattice, v=values: lat.filter(v), args.repeats)
            pixels = feats.shape[1]
            print(
                f"{name}, {kind:5s}: forward+backward {total * 1e3:7.1f} ms "
                f"(lattice build {build * 1e3:6.1f} ms, one filter {filt * 1e3:6.1f} ms); "
                f"{lattice.size / b:8.0f} vertices per image, "
                f"{lattice.size / (b * pixels):.2f} per pixel"
            )


if __name__ == "__main__":
    main()
