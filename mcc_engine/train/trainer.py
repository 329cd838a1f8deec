"""The training loop behind `mcc train` and the app's fine-tune button (no Qt, never prints)."""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from mcc_engine.data.dataset import LoadFailure, TrainDataset, collate, corrected_sampling_weights
from mcc_engine.data.folder import DataFolder, load_data_folder
from mcc_engine.data.views import ViewConfig
from mcc_engine.errors import Cancelled, InputError
from mcc_engine.method.config import MethodConfig
from mcc_engine.method.step import MCCObjective
from mcc_engine.model.network import ModelConfig, build_model
from mcc_engine.model.weights import (
    load_imagenet,
    load_weights_file,
    read_checkpoint,
    weights_architecture,
)
from mcc_engine.train import distributed
from mcc_engine.train.config import RESUMABLE_CHANGES, TrainConfig
from mcc_engine.train.device import out_of_memory_message, setup_device
from mcc_engine.train.runs import TrainLog, save_checkpoint, versions, write_config
from mcc_engine.train.schedule import make_optimizer, make_scheduler


@dataclass
class Progress:
    """What the progress callback receives after each step."""

    step: int
    total: int
    losses: dict[str, float]
    seconds_per_step: float
    eta_seconds: float


@dataclass
class TrainResult:
    """How a run ended (a stopped run raises Cancelled with this as `kept`)."""

    run_dir: Path
    step: int
    last_checkpoint: Path
    notes: list[str] = field(default_factory=list)
    model: Any = field(default=None, repr=False)


def _check_crop(crop: int, patch: int) -> None:
    if crop % patch or crop // patch < 2:
        raise InputError(
            None,
            f"crop {crop} is impossible: it must be a multiple of the patch size "
            f"{patch} and at least {2 * patch}",
        )


def _flag(name: str) -> str:
    return "--" + {"num_workers": "workers"}.get(name, name).replace("_", "-")


def _resumed_config(given: TrainConfig, saved: TrainConfig) -> tuple[TrainConfig, list[str]]:
    """The saved run's settings with the changes a resume may make; a conflicting one is refused.

    A setting the user gave (anything but its default) must equal the run's, except the ones in
    RESUMABLE_CHANGES (more iterations, a moved data folder, another device, ...), which are
    applied and named in the returned notes.
    """
    defaults = TrainConfig()
    notes = []
    values = saved.to_dict()
    for f in fields(TrainConfig):
        name = f.name
        value, old = getattr(given, name), getattr(saved, name)
        if name in ("resume", "out") or value == getattr(defaults, name) or value == old:
            continue
        if name in ("model", "method"):
            clash = {k: v for k, v in value.items() if old.get(k, v) != v or k not in old}
            if clash:
                key = next(iter(clash))
                raise InputError(
                    Path(given.resume),
                    f"{name} setting {key}={clash[key]!r} "
                    f"conflicts with the run's {old.get(key)!r}; a resumed run keeps "
                    "its settings (start a new run with --init to change them)",
                )
            continue
        if name not in RESUMABLE_CHANGES:
            raise InputError(
                Path(given.resume),
                f"{_flag(name)} {value} conflicts with the run's "
                f"{old}; a resumed run keeps its settings (start a new run with "
                "--init to change them)",
            )
        values[name] = value
        if name != "device":
            notes.append(f"resumed with {_flag(name)} {value} (the run had {old})")
    return TrainConfig(**values), notes


def _epoch_order(n: int, *, seed: int, epoch: int, weights: np.ndarray | None) -> np.ndarray:
    rng = np.random.default_rng((seed, epoch, 7919))
    if weights is None:
        return rng.permutation(n)
    return rng.choice(n, size=n, replace=True, p=weights)


def _batches(dataset, *, batch: int, seed: int, start_step: int, ctx, weights):
    """Yield (step, [(index, epoch), ...]) forever, resumable at any step, split across ranks.

    Each item carries its epoch, so data-loading workers (which hold their own copy of the
    dataset) draw that epoch's augmentations.
    """
    per_epoch = max(1, len(dataset) // (batch * ctx.world))
    step = start_step
    while True:
        epoch, offset = divmod(step, per_epoch)
        order = _epoch_order(len(dataset), seed=seed, epoch=epoch, weights=weights)
        if len(order) < batch * ctx.world:  # tiny folders: repeat so every batch is full
            order = np.resize(order, batch * ctx.world)
        for i in range(offset, per_epoch):
            chunk = order[i * batch * ctx.world : (i + 1) * batch * ctx.world]
            yield step, [(int(j), epoch) for j in chunk[ctx.rank :: ctx.world]]
            step += 1


def _settings(
    cfg: TrainConfig,
    folder: DataFolder,
    model_cfg: ModelConfig,
    method: MethodConfig,
    run_dir: Path,
) -> dict[str, Any]:
    return {
        "train": cfg.to_dict(),
        "model": model_cfg.to_dict(),
        "method": method.to_dict(),
        "classes": folder.classes,
        "data_root": str(folder.root),
        "images": len(folder.samples),
        "run_dir": str(run_dir),
        "versions": versions(),
    }


def train(
    cfg: TrainConfig,
    *,
    folder: DataFolder | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train (or resume, or fine-tune) as `cfg` says.

    A stop request saves last.pt and raises Cancelled (its `kept` is the TrainResult). A run
    folder this call created is removed again when it fails before its first last.pt.
    """
    target = cfg.resume or cfg.out
    created = bool(target) and not Path(target).exists()
    try:
        return _train(cfg, folder=folder, progress=progress, should_stop=should_stop)
    except BaseException:
        if created and not (Path(target) / "last.pt").exists():
            shutil.rmtree(target, ignore_errors=True)  # nothing to resume: leave no trace
        raise


def _train(
    cfg: TrainConfig,
    *,
    folder: DataFolder | None,
    progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
) -> TrainResult:
    resume_state = None
    notes: list[str] = []
    if cfg.resume:
        resume_dir = Path(cfg.resume)
        last = resume_dir / "last.pt"
        if not last.is_file():
            raise InputError(resume_dir, "no last.pt to resume from")
        resume_state = read_checkpoint(last)
        saved = TrainConfig.from_dict(resume_state.get("train_config", {}))
        cfg, notes = _resumed_config(cfg, saved)
        cfg.resume, cfg.out = str(resume_dir), str(resume_dir)
    cfg = cfg.resolved()
    if folder is None:
        if not cfg.data:
            raise InputError(None, "no data folder given (--data DIR)")
        folder = load_data_folder(cfg.data)
    if not any(sample.labels for sample in folder.samples):
        raise InputError(
            folder.root,
            "no image carries a tag, so there is nothing to learn; tag images (tags.csv, "
            "tags.json or a folder per tag) first",
        )
    if resume_state is not None and list(resume_state.get("classes", [])) != folder.classes:
        raise InputError(
            Path(cfg.resume) / "last.pt",
            "this run was trained on another class list "
            f"({', '.join(resume_state.get('classes', []))}); start a new run with --init",
        )
    if not cfg.out:
        raise InputError(None, "no run folder given (--out RUN_DIR)")
    run_dir = Path(cfg.out)
    if resume_state is None and (run_dir / "last.pt").exists():
        raise InputError(
            run_dir, "already holds a run; use --resume to continue it or another --out"
        )

    ctx = distributed.init_from_env(cfg.device)
    dev = setup_device(
        f"cuda:{ctx.local_rank}"
        if ctx.enabled and cfg.device != "cpu" and torch.cuda.is_available()
        else cfg.device,
        amp=bool(cfg.amp),
    )
    torch.manual_seed(cfg.seed)
    init_data = read_checkpoint(cfg.init) if cfg.init and resume_state is None else None
    fixed = weights_architecture(init_data) if init_data is not None else {}
    model_cfg = ModelConfig(
        backbone=cfg.backbone, num_classes=len(folder.classes), **{**fixed, **cfg.model}
    )
    try:
        model = build_model(model_cfg)
    except RuntimeError as exc:
        raise InputError(None, f"unknown backbone {cfg.backbone!r} ({exc})") from None
    _check_crop(cfg.crop, model.patch_size)
    if resume_state is None:
        if cfg.weights == "imagenet":
            load_imagenet(model)
        elif cfg.weights not in (None, "none"):
            load_weights_file(model, cfg.weights)
        if cfg.init:
            report = load_weights_file(model, cfg.init, classes=folder.classes, data=init_data)
            if report.reinitialised:
                notes.append(f"new class rows for {', '.join(report.reinitialised)}")
    else:
        model.load_state_dict(resume_state["model"], strict=True)
    model.to(dev.device)
    method = cfg.method_config()
    optimizer = make_optimizer(model, lr=cfg.lr)
    scheduler = make_scheduler(optimizer, total=cfg.iters)
    scaler = torch.amp.GradScaler(enabled=dev.needs_scaler)
    start = 0
    if resume_state is not None:
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        start = int(resume_state["step"])
        torch.set_rng_state(resume_state["rng"]["torch"])
    objective = MCCObjective(model, method)
    if ctx.enabled:
        ids = [dev.device.index] if dev.device.type == "cuda" else None
        objective = DistributedDataParallel(objective, device_ids=ids, find_unused_parameters=True)

    views = ViewConfig(
        crop=cfg.crop,
        quirk_box_unflipped=method.quirk_box_unflipped,
        quirk_local_flip=method.quirk_local_flip,
    )
    dataset = TrainDataset(
        folder,
        crop=cfg.crop,
        mean=model.pixel_mean.tolist(),
        std=model.pixel_std.tolist(),
        masks_dir=cfg.masks,
        mask_images=set(cfg.mask_images) if cfg.mask_images is not None else None,
        seed=cfg.seed,
        view_cfg=views,
    )
    weights = corrected_sampling_weights(dataset, cfg.corrected_ratio) if dataset.masks else None
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_config(run_dir, _settings(cfg, folder, model_cfg, method, run_dir))
    log = (
        TrainLog(run_dir / "log.csv", resume_step=start if resume_state else None)
        if ctx.is_main
        else None
    )

    def checkpoint(step: int) -> None:
        if ctx.is_main:
            save_checkpoint(
                run_dir / "last.pt",
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step,
                    "classes": folder.classes,
                    "model_config": model_cfg.to_dict(),
                    "train_config": cfg.to_dict(),
                    "method_config": method.to_dict(),
                    "rng": {"torch": torch.get_rng_state()},
                    "versions": versions(),
                },
            )

    batches = _batches(
        dataset, batch=cfg.batch, seed=cfg.seed, start_step=start, ctx=ctx, weights=weights
    )
    loader = DataLoader(
        dataset,
        batch_sampler=_LimitedSampler(batches, cfg.iters - start),
        num_workers=cfg.num_workers,
        pin_memory=dev.device.type == "cuda",
        collate_fn=collate,
    )
    step, cancelled = start, False
    started = time.perf_counter()
    model.train()
    try:
        for batch in loader:
            # A worker's failure comes as data too: one line for the user, not a traceback.
            if isinstance(batch, LoadFailure):
                raise InputError(batch.path, batch.problem)
            batch = {k: v.to(dev.device, non_blocking=True) for k, v in batch.items()}
            generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step * 101 + ctx.rank)
            with dev.autocast():
                out = objective(batch, step=step, total_steps=cfg.iters, generator=generator)
            if not math.isfinite(out.parts["total"]):
                raise InputError(
                    None,
                    f"training diverged at step {step} (loss {out.loss}); "
                    "lower --lr or use a preset",
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(out.loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            elapsed = time.perf_counter() - started
            per_step = elapsed / (step - start)
            if log is not None and (step % cfg.log_every == 0 or step == cfg.iters):
                log.append(
                    {
                        "step": step,
                        "lr": optimizer.param_groups[0]["lr"],
                        **out.parts,
                        "seconds": per_step,
                    }
                )
            if progress is not None and ctx.is_main:
                progress(
                    Progress(
                        step=step,
                        total=cfg.iters,
                        losses=out.parts,
                        seconds_per_step=per_step,
                        eta_seconds=per_step * (cfg.iters - step),
                    )
                )
            if step % cfg.save_every == 0:
                checkpoint(step)
            stop = should_stop is not None and should_stop()
            if distributed.any_true(ctx, stop) and step < cfg.iters:
                cancelled = True
                break
    except torch.OutOfMemoryError:
        raise InputError(None, out_of_memory_message(crop=cfg.crop, batch=cfg.batch)) from None
    checkpoint(step)
    distributed.shutdown(ctx)
    result = TrainResult(
        run_dir=run_dir, step=step, last_checkpoint=run_dir / "last.pt", notes=notes, model=model
    )
    if cancelled:
        raise Cancelled(f"stopped at step {step}; {result.last_checkpoint} kept", kept=result)
    return result


class _LimitedSampler:
    """A batch sampler that yields the index lists of `batches` for `count` steps."""

    def __init__(self, batches, count: int) -> None:
        self.batches = batches
        self.count = max(0, count)

    def __iter__(self):
        for _ in range(self.count):
            _, indices = next(self.batches)
            yield indices

    def __len__(self) -> int:
        return self.count
