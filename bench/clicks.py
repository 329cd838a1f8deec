"""Clicks to a good mask: the field's protocol for interactive segmentation on a data folder.

Every object (a connected region of one class in the true mask; 255 there is ignored) is
segmented from nothing by a simulated annotator: each next click goes to the error pixel farthest
from the border of its error region, positive in a missed region and negative in a false one
(mcc_engine.interactive.protocol). Settings:
  clicks        click to segment on image evidence alone (colour, edges)
  clicks+model  click to segment with the project's model (--checkpoint)
  box[+model]   one box (the object's bounding box, counted as one interaction), then clicks
  brush         the baseline: straight strokes of the default brush (12 px) along the largest
                error region, each stroke counted as a click
NoC@t: interactions until the object's IoU first reaches t, --max-clicks where it never does.
IoU@k: the IoU after k interactions (the annotator stops at 90%). ms/click: wall time per
interaction, the simulation included. Images without a true mask are left out.
The last line is `NoC@85 X.XX NoC@90 Y.YY` of the setting with the lowest NoC@90.

--timing: milliseconds per click update on one image resized to 1000 x 1000 (first pass apart),
wall time and process CPU time (the machine may be shared), and for one box, with and without
the model, on --threads CPU threads.

Run: python bench/clicks.py --data DIR --gt GT_DIR [--checkpoint CKPT] [--max-clicks 20]
     [--skip N] [--limit N] [--settings clicks,box,brush] [--timing]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcc_engine.data.folder import load_data_folder
from mcc_engine.data.images import read_image
from mcc_engine.data.masks import IGNORE, mask_rel_path, read_mask
from mcc_engine.errors import InputError
from mcc_engine.interactive import (
    ClickModel,
    ClickSession,
    ProposeSettings,
    image_evidence,
    model_evidence,
)
from mcc_engine.interactive.protocol import brush_stroke, iou, next_click, noc, objects

Run = Callable[..., Iterator[np.ndarray]]  # yields the proposal after each interaction


def run_clicks(
    *, evidence, cls, truth, ignore, budget, box=False, settings=None
) -> Iterator[np.ndarray]:
    """Click to segment (after one box when `box`), the protocol placing the clicks."""
    start = None
    if box:
        ys, xs = np.nonzero(truth)
        start = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
    session = ClickSession(
        evidence, class_index=cls, box=start, settings=settings or ProposeSettings()
    )
    pred = session.mask() if box else np.zeros_like(truth)
    if box:
        yield pred
    for _ in range(budget - int(box)):
        click = next_click(pred, truth, ignore=ignore)
        if click is None:
            yield pred
            continue
        pred = session.add(click[0], click[1], positive=click[2])
        yield pred


def run_brush(*, evidence, cls, truth, ignore, budget, box=False) -> Iterator[np.ndarray]:
    """The brush baseline: one straight stroke of the default size per interaction."""
    pred = np.zeros_like(truth)
    for _ in range(budget):
        brush_stroke(pred, truth, ignore=ignore, size=12)
        yield pred.copy()


@dataclass
class Tally:
    """One setting's results over the objects."""

    name: str
    noc85: list[int] = field(default_factory=list)
    noc90: list[int] = field(default_factory=list)
    iou1: list[float] = field(default_factory=list)
    iou5: list[float] = field(default_factory=list)
    seconds: float = 0.0
    interactions: int = 0

    def row(self) -> str:
        """A table row."""
        ms = 1000 * self.seconds / max(1, self.interactions)
        return (
            f"{self.name:<14} {len(self.noc90):>7} {np.mean(self.noc85):>7.2f} "
            f"{np.mean(self.noc90):>7.2f} {np.mean(self.iou1):>6.3f} {np.mean(self.iou5):>6.3f} "
            f"{ms:>8.1f}"
        )


def measure(tally: Tally, run: Run, *, budget: int, **kwargs) -> None:
    """Run one object through one setting and add its NoC and IoUs to the tally."""
    ious = []
    start = time.perf_counter()
    for pred in run(budget=budget, **kwargs):
        ious.append(iou(pred, kwargs["truth"], ignore=kwargs["ignore"]))
        if ious[-1] >= 0.9:
            break  # both thresholds reached; the remaining clicks change no NoC
    tally.seconds += time.perf_counter() - start
    tally.interactions += len(ious)
    ious += [ious[-1]] * (budget - len(ious))
    tally.noc85.append(noc(ious, 0.85, budget=budget))
    tally.noc90.append(noc(ious, 0.90, budget=budget))
    tally.iou1.append(ious[0])
    tally.iou5.append(ious[min(4, budget - 1)])


def benchmark(args: argparse.Namespace) -> None:
    """The NoC table over the data folder."""
    folder = load_data_folder(args.data)
    net = ClickModel.from_checkpoint(args.checkpoint) if args.checkpoint else None
    wanted = args.settings.split(",")
    settings: list[tuple[str, Run, bool, bool]] = []  # name, run, box, uses the model
    for name in wanted:
        if name in ("clicks", "box"):
            settings.append((name, run_clicks, name == "box", False))
            if net is not None:
                settings.append((f"{name}+model", run_clicks, name == "box", True))
        elif name == "brush":
            settings.append((name, run_brush, False, False))
        else:
            raise SystemExit(f"unknown setting {name!r}; use clicks, box, brush")
    tallies = {name: Tally(name) for name, *_ in settings}
    first_pass = []
    samples = folder.samples[args.skip :]
    samples = samples[: args.limit] if args.limit else samples
    missing = 0
    for sample in samples:
        truth_path = Path(args.gt) / mask_rel_path(sample.rel_path)
        if not truth_path.is_file():
            missing += 1
            continue
        image = read_image(folder.image_path(sample))
        truth_all = read_mask(truth_path, num_classes=len(folder.classes) + 1)
        ignore = truth_all == IGNORE
        plain = image_evidence(image)
        modelled = None
        if net is not None:
            start = time.perf_counter()
            modelled = model_evidence(net, image, labels=sample.labels, base=plain)
            first_pass.append(time.perf_counter() - start)
        for cls, truth in objects(truth_all):
            for name, run, box, uses_model in settings:
                ev = modelled if uses_model else plain
                measure(
                    tallies[name],
                    run,
                    budget=args.max_clicks,
                    evidence=ev,
                    cls=cls,
                    truth=truth,
                    ignore=ignore,
                    box=box,
                )
    if missing == len(samples):
        raise InputError(
            args.gt, "no true mask for any image (a mask is named like its image, .png)"
        )
    if not tallies[settings[0][0]].noc90:
        raise InputError(args.gt, "no object: no true mask of these images names a class")
    print(
        f"{len(samples) - missing} images ({missing} without a true mask left out), click budget "
        f"{args.max_clicks}"
        + (f", model first pass {1000 * np.mean(first_pass):.0f} ms/image" if first_pass else "")
    )
    print(
        f"{'setting':<14} {'objects':>7} {'NoC@85':>7} {'NoC@90':>7} {'IoU@1':>6} {'IoU@5':>6} "
        f"{'ms/click':>8}"
    )
    for tally in tallies.values():
        print(tally.row())
    best = min(tallies.values(), key=lambda t: np.mean(t.noc90))
    print(f"best: {best.name}")
    print(f"NoC@85 {np.mean(best.noc85):.2f} NoC@90 {np.mean(best.noc90):.2f}")


def timing(args: argparse.Namespace) -> None:
    """Milliseconds per click update on a 1000 x 1000 image, first pass apart."""
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    folder = load_data_folder(args.data)
    sample = folder.samples[0]
    image = cv2.resize(
        read_image(folder.image_path(sample)), (1000, 1000), interpolation=cv2.INTER_LINEAR
    )
    truth_all = read_mask(Path(args.gt) / mask_rel_path(sample.rel_path))
    truth_all = cv2.resize(truth_all, (1000, 1000), interpolation=cv2.INTER_NEAREST)
    cls, truth = next(objects(truth_all))
    kinds = [("no model", None)]
    if args.checkpoint:
        kinds.append(("model", ClickModel.from_checkpoint(args.checkpoint)))
    print(f"1000 x 1000 image, {args.threads} threads, {args.clicks} clicks")
    for name, net in kinds:
        start = time.perf_counter()
        ev = image_evidence(image)
        if net is not None:
            ev = model_evidence(net, image, labels=sample.labels, base=ev)
        first = time.perf_counter() - start
        session = ClickSession(ev, class_index=cls)
        pred = np.zeros_like(truth)
        times, cpu = [], []
        for _ in range(args.clicks):
            click = next_click(pred, truth) or (0, 0, False)
            start, start_cpu = time.perf_counter(), time.process_time()
            pred = session.add(click[0], click[1], positive=click[2])
            times.append(1000 * (time.perf_counter() - start))
            cpu.append(1000 * (time.process_time() - start_cpu))
        ys, xs = np.nonzero(truth)
        start = time.perf_counter()
        ClickSession(ev, class_index=cls, box=(xs.min(), ys.min(), xs.max(), ys.max())).mask()
        box_ms = 1000 * (time.perf_counter() - start)
        print(
            f"{name:<9} first pass {1000 * first:6.0f} ms   per click: median "
            f"{statistics.median(times):5.1f} ms, max {max(times):5.1f} ms "
            f"(CPU time: median {statistics.median(cpu):5.1f} ms), "
            f"IoU after {args.clicks} {iou(pred, truth):.3f}; a box {box_ms:.0f} ms"
        )


def main() -> None:
    """Parse the command line and run the benchmark or the timing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--gt", required=True)
    parser.add_argument("--checkpoint")
    parser.add_argument("--max-clicks", type=int, default=20)
    parser.add_argument("--limit", type=int, default=0, help="only N images")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N images")
    parser.add_argument("--settings", default="clicks,box,brush")
    parser.add_argument("--timing", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clicks", type=int, default=10, help="clicks timed (--timing)")
    args = parser.parse_args()
    try:
        timing(args) if args.timing else benchmark(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
