"""Human-in-the-loop benchmark: do corrections teach the model, and does uncertainty order help?

A simulated annotator works on the demo data. Round 0 trains a model from scratch and proposes
masks for every image. Then, per round and per order, the k% of images that order ranks first
among those not yet corrected get their true masks; the model is fine-tuned from the order's last
checkpoint with those masks (`--init`, `--masks`), proposes again for the uncorrected images, and
their mIoU is measured. Orders: "uncertainty" (highest score first) and "random". A third arm,
"none", fine-tunes the same way with no corrections: it tells what the corrections add beyond the
extra training. The mIoU of each order's pool is also given for the round-0 proposals, which shows
how much of a rise only comes from having removed the hardest images from the pool.

Run: nice -n 10 python bench/hitl.py [--images 320] [--rounds 3] [--fraction 0.1]
     [--round-iters 120] [--work DIR] [--plot docs/hitl.png]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcc_engine.data.demo import write_demo
from mcc_engine.data.folder import DataFolder, load_data_folder
from mcc_engine.data.masks import mask_rel_path
from mcc_engine.evaluate import evaluate_folders
from mcc_engine.infer_folder import infer_folder
from mcc_engine.train.config import TrainConfig
from mcc_engine.train.trainer import train


@dataclass
class Setup:
    """What every round shares: the data, the truth, the settings."""

    work: Path
    folder: DataFolder
    truth: Path
    preset: str
    round_iters: int
    per_round: int
    source: str = "cam"
    refine: str = "par"
    lr: float | None = None
    seed: int = 0


@dataclass
class Arm:
    """One simulated annotator: an order, what it corrected, its latest model and proposals."""

    name: str
    checkpoint: Path
    proposals: Path
    scores: dict[str, float]
    corrected: list[str] = field(default_factory=list)
    miou: list[float] = field(default_factory=list)

    def uncorrected(self, folder: DataFolder) -> list[str]:
        """Images nobody has corrected yet, in folder order."""
        done = set(self.corrected)
        return [s.rel_path for s in folder.samples if s.rel_path not in done]


def pool_miou(setup: Setup, proposals: Path, images: list[str]) -> float:
    """mIoU of the proposals of `images` against the truth."""
    only = [mask_rel_path(rel) for rel in images]
    return evaluate_folders(proposals, setup.truth, classes=setup.folder.classes, only=only).miou


def pick(setup: Setup, arm: Arm, round_index: int) -> list[str]:
    """The images this arm's annotator corrects in this round, in its order."""
    todo = arm.uncorrected(setup.folder)
    if arm.name == "uncertainty":
        return sorted(todo, key=lambda rel: (-arm.scores[rel], rel))[: setup.per_round]
    if arm.name == "random":
        rng = np.random.default_rng((setup.seed, round_index, 1))
        return [todo[i] for i in rng.permutation(len(todo))[: setup.per_round]]
    return []


def run_round(setup: Setup, arm: Arm, round_index: int) -> float:
    """Correct, fine-tune, re-propose; returns the mIoU of the images still uncorrected."""
    picked = pick(setup, arm, round_index)
    masks = setup.work / arm.name / "masks"
    for rel in picked:  # the annotator's corrections: the true masks
        target = masks / mask_rel_path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(setup.truth / mask_rel_path(rel), target)
    arm.corrected += picked
    run = setup.work / arm.name / f"round{round_index}"
    cfg = TrainConfig(data=str(setup.folder.root), out=str(run), preset=setup.preset,
                      init=str(arm.checkpoint), iters=setup.round_iters, lr=setup.lr,
                      masks=str(masks) if arm.corrected else None,
                      mask_images=list(arm.corrected) if arm.corrected else None,
                      seed=setup.seed + round_index, device="cpu", save_every=10**9)  # fmt: skip
    arm.checkpoint = train(cfg, folder=setup.folder).last_checkpoint
    todo = arm.uncorrected(setup.folder)
    arm.proposals = setup.work / arm.name / f"proposals{round_index}"
    result = infer_folder(checkpoint=arm.checkpoint, data=setup.folder, out=arm.proposals,
                          source=setup.source, refine=setup.refine, only=set(todo),
                          device="cpu")  # fmt: skip
    arm.scores = result.scores
    value = pool_miou(setup, arm.proposals, todo)
    arm.miou.append(value)
    return value


def round_zero(setup: Setup, iters: int | None, reuse: bool) -> Arm:
    """Train from scratch and propose masks for every image."""
    run = setup.work / "round0"
    if not (reuse and (run / "last.pt").is_file()):
        shutil.rmtree(run, ignore_errors=True)
        train(TrainConfig(data=str(setup.folder.root), out=str(run), preset=setup.preset,
                          iters=iters, seed=setup.seed, device="cpu", save_every=10**9),
              folder=setup.folder)  # fmt: skip
    proposals = setup.work / "proposals0"
    result = infer_folder(checkpoint=run / "last.pt", data=setup.folder, out=proposals,
                          source=setup.source, refine=setup.refine, device="cpu")  # fmt: skip
    images = [s.rel_path for s in setup.folder.samples]
    start = Arm("start", run / "last.pt", proposals, result.scores)
    start.miou.append(pool_miou(setup, proposals, images))
    return start


def plot(path: Path, arms: dict[str, Arm], baseline: dict[str, list[float]], fraction: float,
         title: str) -> None:  # fmt: skip
    """The curves: mIoU of the uncorrected images per round, for each order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    colours = {"uncertainty": "tab:red", "random": "tab:blue"}
    for name, colour in colours.items():
        x = [100 * fraction * r for r in range(len(arms[name].miou))]
        ax.plot(x, arms[name].miou, "o-", color=colour, label=f"{name} order, after fine-tune")
        ax.plot(x, baseline[f"{name}/start"], ":", color=colour,
                label=f"{name} order, round-0 proposals of the same pool")  # fmt: skip
        ax.plot(x, baseline[f"{name}/none"], "--", color=colour, alpha=0.6,
                label=f"{name} pool, fine-tuned without corrections")  # fmt: skip
    ax.set_xlabel("images corrected (%)")
    ax.set_ylabel("mIoU of the images not yet corrected")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run the simulation and print the curves."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=320)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--r0-iters", type=int, default=None, help="default: the preset's")
    parser.add_argument("--round-iters", type=int, default=120)
    parser.add_argument("--lr", type=float, default=None, help="fine-tune lr; default: preset's")
    parser.add_argument("--source", default="cam", choices=["cam", "seg"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None, help="kept when given")
    parser.add_argument("--reuse", action="store_true", help="reuse the work folder's round 0")
    parser.add_argument("--plot", type=Path, default=Path("docs/hitl.png"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    work = args.work or Path(tempfile.mkdtemp(prefix="mcc-hitl-"))
    started = time.perf_counter()
    data = work / "demo"
    if not (args.reuse and (data / "tags.csv").is_file()):
        write_demo(data, count=args.images, seed=args.seed)
    for name in ("uncertainty", "random", "none"):
        shutil.rmtree(work / name, ignore_errors=True)
    folder = load_data_folder(data)
    setup = Setup(work=work, folder=folder, truth=data / "ground_truth", preset=args.preset,
                  round_iters=args.round_iters, per_round=max(1, round(args.fraction * args.images)),
                  source=args.source, lr=args.lr, seed=args.seed)  # fmt: skip
    start = round_zero(setup, args.r0_iters, args.reuse)
    print(f"round 0: {args.preset} preset from scratch, {len(folder.samples)} images, "
          f"mIoU of all proposals {start.miou[0]:.4f} ({time.perf_counter() - started:.0f} s)",
          flush=True)  # fmt: skip
    arms = {name: Arm(name, start.checkpoint, start.proposals, dict(start.scores))
            for name in ("uncertainty", "random", "none")}  # fmt: skip
    for arm in arms.values():
        arm.miou.append(start.miou[0])
    base = {
        f"{o}/{b}": [start.miou[0]] for o in ("uncertainty", "random") for b in ("start", "none")
    }
    common = []
    for r in range(1, args.rounds + 1):
        for arm in arms.values():
            run_round(setup, arm, r)
        for order in ("uncertainty", "random"):
            todo = arms[order].uncorrected(folder)
            base[f"{order}/start"].append(pool_miou(setup, start.proposals, todo))
            base[f"{order}/none"].append(pool_miou(setup, arms["none"].proposals, todo))
        both = sorted(set(arms["uncertainty"].uncorrected(folder))
                      & set(arms["random"].uncorrected(folder)))  # fmt: skip
        common.append({name: pool_miou(setup, arms[name].proposals, both) for name in arms})
        done = len(arms["uncertainty"].corrected)
        print(f"round {r}: {done} corrected ({100 * done / len(folder.samples):.0f}%), mIoU of the "
              f"uncorrected: uncertainty {arms['uncertainty'].miou[r]:.4f} "
              f"(round-0 proposals of that pool {base['uncertainty/start'][r]:.4f}, no-correction "
              f"fine-tune {base['uncertainty/none'][r]:.4f}) | random {arms['random'].miou[r]:.4f} "
              f"(round-0 {base['random/start'][r]:.4f}, no-correction {base['random/none'][r]:.4f})"
              f" | the {len(both)} images neither corrected: uncertainty "
              f"{common[-1]['uncertainty']:.4f}, random {common[-1]['random']:.4f}, none "
              f"{common[-1]['none']:.4f} ({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip
    title = (
        f"demo data, {len(folder.samples)} images, {args.preset} preset, {args.source} proposals\n"
        f"{args.fraction:.0%} corrected per round, {args.round_iters} fine-tune iterations a round"
    )
    plot(args.plot, arms, base, args.fraction, title)
    u, rnd = arms["uncertainty"].miou[-1], arms["random"].miou[-1]
    gain_u, gain_r = u - base["uncertainty/none"][-1], rnd - base["random/none"][-1]
    print(f"summary: {len(arms['uncertainty'].corrected)} corrected in {args.rounds} rounds; mIoU of "
          f"the rest {start.miou[0]:.4f} -> uncertainty order {u:.4f}, random order {rnd:.4f}; "
          f"over the same fine-tune without corrections {gain_u:+.4f} and {gain_r:+.4f}; "
          f"on the images neither order corrected: uncertainty {common[-1]['uncertainty']:.4f}, "
          f"random {common[-1]['random']:.4f}, none {common[-1]['none']:.4f}; plot {args.plot}; "
          f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
