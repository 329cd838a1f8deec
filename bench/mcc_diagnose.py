"""What MCC's own supervision looks like in a trained run, measured against the true masks.

For a checkpoint and a data folder with ground_truth/, it draws training batches as the run did
and reports, per batch and in total:
  flags       local views flagged positive, and how many agree with the flag the true mask gives
              (the same rule on the true foreground share of each visible patch)
  guide       how much of the true foreground the guiding CAM's high-confidence region (>= high)
              covers, and how much of that region is true foreground
  affinity    share of tokens the aux CAM labels, and how many of those labels are right
  seg label   share of true foreground pixels the segmentation pseudo-label marks as their
              class, and the precision of its foreground
plus, from log.csv, the first and last tenth's mean of the MCC loss and of the positive locals.

    python bench/mcc_diagnose.py --run RUN_DIR --data DATA_DIR [--batches 10]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcc_engine.data.dataset import TrainDataset
from mcc_engine.data.folder import load_data_folder
from mcc_engine.data.masks import IGNORE
from mcc_engine.data.views import ViewConfig
from mcc_engine.method.cam import box_mask, cam_to_label, multiscale_cams
from mcc_engine.method.config import MethodConfig
from mcc_engine.method.local_masks import roi_levels, sample_visible, view_flags
from mcc_engine.method.step import (
    denormalise_uint8,
    guide_cam,
    mask_roi_levels,
    mask_to_token_labels,
    seg_pseudo_labels,
    token_box,
)
from mcc_engine.model.network import ModelConfig, build_model
from mcc_engine.model.weights import read_checkpoint


def _log_summary(run: Path) -> dict[str, float]:
    with open(run / "log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    tenth = max(1, len(rows) // 10)
    out = {}
    for key in ("mcc", "positive_locals", "aff", "seg"):
        values = [float(r[key]) for r in rows]
        out[f"{key}_first"] = statistics.mean(values[:tenth])
        out[f"{key}_last"] = statistics.mean(values[-tenth:])
    return out


@torch.no_grad()
def diagnose(run: Path, data: Path, *, batches: int, seed: int = 0) -> dict[str, float]:
    """The totals described in the module docstring, for one run."""
    state = read_checkpoint(run / "last.pt")
    model = build_model(ModelConfig.from_dict(state["model_config"]))
    model.load_state_dict(state["model"])
    model.train()  # as during training (no dropout in these models)
    cfg = MethodConfig.from_dict(state["method_config"])
    train_cfg = state["train_config"]
    total_steps = int(train_cfg["iters"])
    folder = load_data_folder(data)
    views = ViewConfig(
        crop=int(train_cfg["crop"]),
        quirk_box_unflipped=cfg.quirk_box_unflipped,
        quirk_local_flip=cfg.quirk_local_flip,
    )
    dataset = TrainDataset(
        folder,
        crop=views.crop,
        mean=model.pixel_mean.tolist(),
        std=model.pixel_std.tolist(),
        masks_dir=data / "ground_truth",
        seed=seed + 1000,
        view_cfg=views,
    )
    rng = np.random.default_rng(seed)
    p = model.patch_size
    sums: dict[str, float] = {}

    def add(key: str, value: float) -> None:
        sums[key] = sums.get(key, 0.0) + float(value)

    for b in range(batches):
        items = [dataset[(int(i), b)] for i in rng.choice(len(dataset), 8, replace=False)]
        batch = {k: torch.stack([it[k] for it in items]) for k in items[0]}
        x, labels, truth = batch["image"], batch["labels"].float(), batch["mask"]
        height, width = x.shape[-2:]
        grid = (height // p, width // p)
        cam, cam_aux = multiscale_cams(model, x, scales=cfg.cam_scales, labels=labels)
        guide = guide_cam(
            cam, cam_aux, grid, step=total_steps - 1, total_steps=total_steps, cfg=cfg
        )
        visible = sample_visible(
            len(x),
            n_views=cfg.n_local,
            grid=grid,
            cell=cfg.mask_cell,
            hide_probability=cfg.hide_probability,
            generator=torch.Generator().manual_seed(b),
        )
        levels = roi_levels(guide, labels, low=cfg.low_threshold, high=cfg.high_threshold)
        flags = view_flags(visible, levels, ratio=cfg.negative_ratio)
        known = mask_roi_levels(truth, p, low=cfg.low_threshold, high=cfg.high_threshold)
        true_flags = view_flags(visible, known.clamp(min=0), ratio=cfg.negative_ratio)
        add("views", flags.numel())
        add("flags_positive", flags.sum())
        add("flags_true_positive", true_flags.sum())
        add("flags_agree", (flags == true_flags).sum())
        fg_tokens = (mask_to_token_labels(truth, p) > 0) & (
            mask_to_token_labels(truth, p) != IGNORE
        )
        confident = levels == 2
        add("true_fg_tokens", fg_tokens.sum())
        add("guide_high_on_true_fg", (confident & fg_tokens).sum())
        add("guide_high", confident.sum())
        aux_grid = F.interpolate(cam_aux, size=grid, mode="bilinear", align_corners=False)
        aff = cam_to_label(
            aux_grid,
            labels,
            low=cfg.low_threshold,
            high=cfg.high_threshold,
            valid=token_box(batch["box"], grid, p, cfg),
        )
        token_truth = mask_to_token_labels(truth, p)
        judged = (aff != IGNORE) & (token_truth != IGNORE)
        add("tokens", aff.numel())
        add("aff_labelled", (aff != IGNORE).sum())
        add("aff_judged", judged.sum())
        add("aff_right", ((aff == token_truth) & judged).sum())
        valid = box_mask(batch["box"], (height, width))
        target = seg_pseudo_labels(cam, labels, denormalise_uint8(model, x), valid, cfg)
        true_fg = (truth > 0) & (truth != IGNORE)
        add("true_fg_pixels", true_fg.sum())
        add("seg_fg_right", ((target == truth) & true_fg).sum())
        add("seg_fg", ((target > 0) & (target != IGNORE)).sum())
        add("seg_fg_correct", ((target == truth) & (target > 0) & (target != IGNORE)).sum())
    return {
        "positive_views": sums["flags_positive"] / sums["views"],
        "truly_positive_views": sums["flags_true_positive"] / sums["views"],
        "flag_agreement": sums["flags_agree"] / sums["views"],
        "guide_recall": sums["guide_high_on_true_fg"] / max(1, sums["true_fg_tokens"]),
        "guide_precision": sums["guide_high_on_true_fg"] / max(1, sums["guide_high"]),
        "aff_coverage": sums["aff_labelled"] / sums["tokens"],
        "aff_accuracy": sums["aff_right"] / max(1, sums["aff_judged"]),
        "seg_label_recall": sums["seg_fg_right"] / max(1, sums["true_fg_pixels"]),
        "seg_label_precision": sums["seg_fg_correct"] / max(1, sums["seg_fg"]),
        **_log_summary(run),
    }


def main() -> None:
    """Command line: diagnose runs, one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, nargs="+", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for run in args.run:
        result = diagnose(run, args.data, batches=args.batches)
        print(json.dumps({"run": run.name, **{k: round(v, 4) for k, v in result.items()}}))


if __name__ == "__main__":
    main()
