"""Proposing masks: images per second at 256, 512 and 2,048 px, idle and beside a busy process.

For the `demo` and `cpu` presets and square images of each size (demo scenes scaled up, saved as
JPEGs), prints images/second for a folder through `infer_folder` (what `mcc infer` does: read,
propose, write the mask; images in parallel, one thread each) and for one image at a time through
`Predictor.predict` (the app's Propose), first on an idle machine, then beside a competing
busy-loop process; and, before them, the mIoU of the default proposals (CAM + PAR) and of the
segmentation head on the 320 demo images, so that speed is never bought with quality. The
demo-preset model is trained once (seed 0, CPU) and cached under --work; the cpu-preset model is
trained for one step only (its speed is what counts). The target (product.md): at least 5
images/s at 512 px with the demo preset on two cores, also when another program uses the CPU.

Run: python bench/infer.py [--work /tmp/mcc-bench-infer] [--repeat 4] [--sizes 256 512 2048]
     [--presets demo cpu] [--no-busy] [--eval-images 320]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcc_engine.data.demo import write_demo
from mcc_engine.data.folder import load_data_folder
from mcc_engine.data.images import read_image
from mcc_engine.data.masks import mask_rel_path
from mcc_engine.evaluate import evaluate_folders
from mcc_engine.infer import Predictor
from mcc_engine.infer_folder import infer_folder
from mcc_engine.train.config import TrainConfig
from mcc_engine.train.trainer import train


def model_for(preset: str, work: Path, demo: Path) -> Path:
    """A cached checkpoint of `preset` on the demo data (demo: fully trained; cpu: one step)."""
    run = work / f"run-{preset}"
    if not (run / "last.pt").is_file():
        iters = None if preset == "demo" else 1
        started = time.perf_counter()
        train(
            TrainConfig(
                data=str(demo),
                out=str(run),
                preset=preset,
                iters=iters,
                seed=0,
                device="cpu",
                save_every=10**9,
            )
        )
        print(f"trained {preset} in {time.perf_counter() - started:.0f} s -> {run / 'last.pt'}")
    return run / "last.pt"


def miou(
    checkpoint: Path, demo: Path, work: Path, *, source: str, count: int, method: str = "ours"
) -> float:
    """mIoU of the proposals for the first `count` demo images against their true masks."""
    folder = load_data_folder(demo)
    only = {s.rel_path for s in folder.samples[:count]}
    out = work / f"pred-{source}"
    # The old code has no `method`: leave it out for ours, so the bench measures both versions.
    method_arg = {} if method == "ours" else {"method": method}
    infer_folder(
        checkpoint=checkpoint,
        data=folder,
        out=out,
        source=source,
        device="cpu",
        only=only,
        **method_arg,
    )
    wanted = [mask_rel_path(r) for r in sorted(only)]
    return evaluate_folders(out, demo / "ground_truth", classes=folder.classes, only=wanted).miou


def test_folder(demo: Path, work: Path, size: int, count: int) -> Path:
    """A data folder of `count` demo scenes scaled up to size x size (JPEG), with their tags."""
    root = work / f"images-{size}-{count}"
    if (root / "tags.csv").is_file():
        return root
    folder = load_data_folder(demo)
    (root / "images").mkdir(parents=True, exist_ok=True)
    lines = ["image,tags"]
    for sample in folder.samples[:count]:
        image = cv2.resize(read_image(folder.image_path(sample)), (size, size))
        cv2.imwrite(str(root / sample.rel_path), image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        lines.append(f"{sample.rel_path},{';'.join(folder.classes[k - 1] for k in sample.labels)}")
    (root / "classes.txt").write_text("\n".join(folder.classes) + "\n")
    (root / "tags.csv").write_text("\n".join(lines) + "\n")
    return root


def folder_rate(predictor: Predictor, data: Path, out: Path) -> float:
    """Images per second of infer_folder over `data` (read, propose, write)."""
    folder = load_data_folder(data)
    started = time.perf_counter()
    infer_folder(checkpoint="", data=folder, out=out, predictor=predictor)
    return len(folder.samples) / (time.perf_counter() - started)


def predict_rate(predictor: Predictor, data: Path) -> float:
    """Images per second of Predictor.predict one image at a time (decoded beforehand)."""
    folder = load_data_folder(data)
    images = [(read_image(folder.image_path(s)), s.labels) for s in folder.samples]
    predictor.predict(*images[0])  # warm-up
    started = time.perf_counter()
    for image, labels in images:
        predictor.predict(image, labels)
    return len(images) / (time.perf_counter() - started)


def busy_process() -> subprocess.Popen:
    """A competing program: one pure-Python busy loop (one core)."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("/tmp/mcc-bench-infer"))
    parser.add_argument("--repeat", type=int, default=8, help="images timed per setting")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 2048])
    parser.add_argument("--presets", nargs="+", default=["demo", "cpu"])
    parser.add_argument("--no-busy", action="store_true")
    parser.add_argument("--eval-images", type=int, default=320)
    parser.add_argument("--authors", action="store_true", help="also the authors' paths' mIoU")
    args = parser.parse_args()
    demo = args.work / "demo"
    if not (demo / "tags.csv").is_file():
        write_demo(demo, count=320)
    print(
        f"torch {torch.__version__}, {os.cpu_count()} cores, torch threads "
        f"{torch.get_num_threads()}, load {os.getloadavg()[0]:.2f}"
    )
    checkpoints = {preset: model_for(preset, args.work, demo) for preset in args.presets}
    if "demo" in checkpoints and args.eval_images:
        started = time.perf_counter()
        cam = miou(checkpoints["demo"], demo, args.work, source="cam", count=args.eval_images)
        seg = miou(checkpoints["demo"], demo, args.work, source="seg", count=args.eval_images)
        seconds = time.perf_counter() - started
        print(
            f"demo preset, {args.eval_images} demo images: mIoU CAM + PAR {cam:.4f}, "
            f"seg head + PAR {seg:.4f} ({seconds:.0f} s for both)"
        )
        if args.authors:
            cam = miou(
                checkpoints["demo"],
                demo,
                args.work,
                source="cam",
                count=args.eval_images,
                method="authors",
            )
            seg = miou(
                checkpoints["demo"],
                demo,
                args.work,
                source="seg",
                count=args.eval_images,
                method="authors",
            )
            print(f"  --method authors: CAM {cam:.4f}, seg head {seg:.4f}")
    loads = ["idle"] if args.no_busy else ["idle", "busy"]
    heads = [f"{kind} {load}" for load in loads for kind in ("folder", "predict")]
    print(f"{'preset':<6} {'size':>5}  side  " + " ".join(f"{h:>14}" for h in heads) + "  (img/s)")
    for preset, checkpoint in checkpoints.items():
        predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
        for size in args.sizes:
            count = args.repeat if size <= 1024 else max(2, args.repeat // 2)
            data = test_folder(demo, args.work, size, count)
            rates = []
            for load in loads:
                other = busy_process() if load == "busy" else None
                try:
                    rates.append(folder_rate(predictor, data, args.work / "out"))
                    rates.append(predict_rate(predictor, data))
                finally:
                    if other is not None:
                        other.kill()
                        other.wait()
            side = getattr(predictor, "side", 1024)
            print(
                f"{preset:<6} {size:>5} {side:>5}  " + " ".join(f"{r:>14.2f}" for r in rates),
                flush=True,
            )


if __name__ == "__main__":
    main()
