"""`mcc`: the same pipeline as the app, headless. Bad input: one line on stderr, exit status 2."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from mcc_engine.errors import Cancelled, InputError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, like every other bad input
        words = self.prog.split()
        name = " ".join(["mcc", *words[1:]])  # "mcc" alone for the top level, "mcc train" below
        self.exit(2, f"{name}: {message}\n")


def _integer(low: int, high: int | None = None):
    """An argparse type: an integer in [low, high], else one line naming the allowed range."""
    words = f"an integer from {low}" + (f" to {high}" if high is not None else " up")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {words}, not {text!r}")
        return value

    return parse


def _number(low: float, high: float | None = None, *, above: bool = False, below: bool = False):
    """An argparse type: a finite number from (or `above`) low, up to (or `below`) high."""
    words = f"a number {'above' if above else 'from'} {low:g}"
    if high is None:
        words += " up"
    else:
        words += f" {'to below' if below else 'up to'} {high:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        fits = math.isfinite(value) and (value > low if above else value >= low)
        if high is not None:
            fits = fits and (value < high if below else value <= high)
        if not fits:
            raise argparse.ArgumentTypeError(f"must be {words}, not {text!r}")
        return value

    return parse


_FRACTION = _number(0.0, 1.0, below=True)
_WEIGHT = _number(0.0)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mcc", description="Learn pixel masks from image-level tags (MCC).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser("demo", help="write the bundled demo data folder")
    demo.add_argument("--out", required=True, type=Path)
    demo.add_argument("--count", type=_integer(1, 100_000), default=320)

    train = sub.add_parser("train", help="train or fine-tune on a data folder")
    train.add_argument("--data", type=Path)
    train.add_argument("--out", type=Path)
    train.add_argument(
        "--preset", choices=["tiny", "demo", "cpu", "gpu", "paper"], help="default cpu"
    )
    train.add_argument("--backbone")
    train.add_argument("--weights", help="imagenet, none, or a FILE")
    train.add_argument("--init", help="start from this checkpoint's weights")
    train.add_argument("--resume", type=Path, help="continue the run in RUN_DIR")
    train.add_argument("--iters", type=_integer(1))
    train.add_argument("--batch", type=_integer(1, 4096))
    train.add_argument("--crop", type=_integer(8, 4096))
    train.add_argument("--lr", type=_number(0.0, 1.0, above=True))
    train.add_argument("--seed", type=_integer(0, 2**32 - 1))
    train.add_argument("--device", default="auto")
    train.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None)
    for name in ("w-aff", "w-mcc", "w-seg", "w-reg"):
        train.add_argument(f"--{name}", type=_WEIGHT)
    train.add_argument(
        "--cam-warmup",
        type=_FRACTION,
        help="share of iterations on the classification losses alone (0 to <1)",
    )
    train.add_argument(
        "--mcc-cosine",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="MCC on L2-normalised projector outputs (the demo and cpu presets' departure) or on "
        "the raw inner product (the authors'); default: the preset's",
    )
    train.add_argument("--masks", type=Path, help="corrected masks: exact labels for their images")
    train.add_argument("--save-every", type=_integer(1), default=100)
    train.add_argument("--log-every", type=_integer(1), default=10)
    train.add_argument("--workers", type=_integer(0, 64), default=0)

    infer = sub.add_parser("infer", help="write a pseudo-mask for every image")
    infer.add_argument("--checkpoint", required=True, type=Path)
    infer.add_argument("--data", required=True, type=Path)
    infer.add_argument("--out", required=True, type=Path)
    infer.add_argument(
        "--method",
        default="ours",
        choices=["ours", "authors"],
        help="ours (default; the app's): CAM over the tags with background below 0.45, PAR, and "
        "the head's logits averaged over flips and scales 1, 1.25, 1.5; authors: their tools, "
        "the CAM resized to a square (--size, default the training crop; theirs is 448), "
        "background where the tagged CAM is at most 0.5, no PAR, or the head's flip pairs "
        "summed and the maximum over scales 1, 1.5, 1.25",
    )
    infer.add_argument(
        "--source", default="cam", choices=["cam", "seg"], help="CAMs, or the segmentation head"
    )
    infer.add_argument(
        "--refine",
        choices=["par", "crf", "none"],
        help="default: par for ours, none for authors; crf needs the crf extra (ours: Gaussian "
        "3/3, bilateral 80/13/10; authors, seg only: Gaussian 1/1, bilateral 121/5/4)",
    )
    infer.add_argument(
        "--size",
        type=_integer(8, 8192),
        help="longer side the network sees (default: twice the training crop; images are only "
        "shrunk), and the square of the authors' CAM",
    )
    infer.add_argument("--confidence", type=Path)
    infer.add_argument("--scores", type=Path, help="CSV of per-image uncertainty, worst first")
    infer.add_argument("--device", default="auto")

    ev = sub.add_parser("eval", help="per-class IoU and mIoU of predicted masks")
    ev.add_argument("--pred", required=True, type=Path)
    ev.add_argument("--gt", required=True, type=Path)
    ev.add_argument("--classes", type=Path, help="class names (default: classes.txt beside --gt)")
    ev.add_argument("--json", action="store_true")

    export = sub.add_parser("export", help="write a VOC or COCO dataset")
    export.add_argument("--data", required=True, type=Path)
    export.add_argument("--masks", required=True, type=Path)
    export.add_argument("--format", required=True, choices=["voc", "coco"])
    export.add_argument("--out", required=True, type=Path)
    export.add_argument("--val-fraction", type=_FRACTION, default=0.2)
    export.add_argument("--coco-segmentation", default="rle", choices=["rle", "polygon"])
    export.add_argument("--include-unlabelled", action="store_true")
    return parser


def _cmd_demo(args) -> int:
    from mcc_engine.data.demo import write_demo

    write_demo(args.out, count=args.count)
    print(f"wrote {args.count} demo images to {args.out}")
    return 0


def _cmd_train(args) -> int:
    import signal

    from mcc_engine.train.config import TrainConfig
    from mcc_engine.train.trainer import train

    given = {
        k: getattr(args, k)
        for k in (
            "preset",
            "backbone",
            "weights",
            "init",
            "iters",
            "batch",
            "crop",
            "lr",
            "amp",
            "seed",
        )
    }
    method = {f"w_{k}": getattr(args, f"w_{k}") for k in ("aff", "mcc", "seg", "reg")}
    method["cam_warmup_fraction"] = args.cam_warmup
    method["mcc_cosine"] = args.mcc_cosine
    cfg = TrainConfig(
        data=str(args.data) if args.data else None,
        out=str(args.out) if args.out else None,
        resume=str(args.resume) if args.resume else None,
        device=args.device,
        masks=str(args.masks) if args.masks else None,
        save_every=args.save_every,
        log_every=args.log_every,
        num_workers=args.workers,
        method={k: v for k, v in method.items() if v is not None},
        **{k: v for k, v in given.items() if v is not None},
    )
    if cfg.resume is None and cfg.data is None:
        raise InputError(None, "train needs --data DIR (or --resume RUN_DIR)")
    if args.masks is not None and not args.masks.is_dir():
        raise InputError(args.masks, "masks folder not found")
    width = 0

    def show(p) -> None:
        nonlocal width
        line = (
            f"step {p.step}/{p.total}  loss {p.losses['total']:.4f}  "
            f"{p.seconds_per_step:.2f} s/step  eta {p.eta_seconds / 60:.1f} min"
        )
        width = max(width, len(line))
        print("\r" + line.ljust(width), end="", file=sys.stderr, flush=True)

    # The first Ctrl+C stops after the current step and saves last.pt; a second one stops at once.
    interrupted = []

    def on_interrupt(signum, frame) -> None:
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(True)
        print("\nstopping after this step (Ctrl+C again to stop at once)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    stopped = False
    try:
        result = train(
            cfg,
            progress=show if sys.stderr.isatty() else None,
            should_stop=lambda: bool(interrupted),
        )
    except Cancelled as stop:  # the first Ctrl+C: last.pt saved at the step it stopped
        result, stopped = stop.kept, True
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; continue from the last saved step with: mcc train --resume "
            f"{cfg.resume or cfg.out}",
            file=sys.stderr,
        )
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
    if sys.stderr.isatty():
        print(file=sys.stderr)  # end the progress line
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if stopped:
        print(
            f"stopped at step {result.step}; checkpoint {result.last_checkpoint}; continue with: "
            f"mcc train --resume {result.run_dir}"
        )
        return 130
    print(f"trained {result.step} steps; checkpoint {result.last_checkpoint}")
    return 0


def _cmd_infer(args) -> int:
    from mcc_engine.infer_folder import infer_folder

    result = infer_folder(
        checkpoint=args.checkpoint,
        data=args.data,
        out=args.out,
        source=args.source,
        refine=args.refine,
        method=args.method,
        size=args.size,
        confidence=args.confidence,
        scores=args.scores,
        device=args.device,
    )
    print(f"wrote {result.written} masks to {args.out}")
    return 0


def _cmd_eval(args) -> int:
    from mcc_engine.data.folder import read_classes
    from mcc_engine.evaluate import evaluate_folders

    listed = args.classes
    if listed is None and (args.gt.parent / "classes.txt").is_file():
        listed = args.gt.parent / "classes.txt"  # a data folder's ground_truth/ sits beside it
    classes = read_classes(listed) if listed else None
    scores = evaluate_folders(args.pred, args.gt, classes=classes, classes_from=listed)
    if scores.unlabelled_pixels:
        print(
            f"note: {scores.unlabelled_pixels} predicted pixels are 255 (unlabelled) where the "
            "truth has a class; each counts as a miss for that class",
            file=sys.stderr,
        )
    if args.json:
        print(
            json.dumps(
                {
                    "classes": scores.names,
                    "iou": scores.iou,
                    "miou": scores.miou,
                    "images": scores.images,
                    "unlabelled_pixels": scores.unlabelled_pixels,
                }
            )
        )
        return 0
    width = max(len(n) for n in scores.names)
    for name, value in zip(scores.names, scores.iou):
        print(f"{name:<{width}}  {'   n/a' if value is None else f'{value:.4f}'}")
    print(f"mIoU {scores.miou:.4f}")
    return 0


def _cmd_export(args) -> int:
    from mcc_engine.formats.export import export_dataset

    summary = export_dataset(
        data=args.data,
        masks=args.masks,
        fmt=args.format,
        out=args.out,
        val_fraction=args.val_fraction,
        coco_segmentation=args.coco_segmentation,
        include_unlabelled=args.include_unlabelled,
    )
    print(summary.describe())
    return 0


COMMANDS = {
    "demo": _cmd_demo,
    "train": _cmd_train,
    "infer": _cmd_infer,
    "eval": _cmd_eval,
    "export": _cmd_export,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `mcc` command; returns the exit status."""
    args = _build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        print(f"mcc {args.command}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # read-only or full destinations, permissions
        print(f"mcc {args.command}: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
