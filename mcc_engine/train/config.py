"""Training settings: one dataclass with a JSON round trip, and the named presets."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from mcc_engine.errors import InputError
from mcc_engine.method.config import MethodConfig

_SMALL_VIT: Final = {"embed_dim": 192, "depth": 6, "num_heads": 3, "patch_size": 8}
_SMALL_HEADS: Final = {
    "proj_hidden": 512,
    "proj_bottleneck": 128,
    "proj_out": 256,
    "decoder_dim": 256,
}

# What our presets change in the method (MethodConfig), each a named departure with its reason:
# the authors' quirks corrected (their box and flip handling), and for ViTs trained from scratch
# on a CPU, MCC on L2-normalised projector outputs (their raw inner product grows with the
# outputs' norms, which nothing bounds in a small model without ImageNet weights).
_CORRECTED: Final = {
    "quirk_token_box_pixels": False,
    "quirk_box_unflipped": False,
    "quirk_local_flip": False,
}
_FROM_SCRATCH: Final = {**_CORRECTED, "mcc_cosine": True}

PRESETS: Final[dict[str, dict[str, Any]]] = {
    # For tests and smoke checks only: learns nothing useful, runs in a second.
    "tiny": {
        "backbone": "vit_small_patch16_224",
        "weights": "none",
        "crop": 32,
        "batch": 2,
        "iters": 4,
        "lr": 1e-3,
        "amp": False,
        "method": {},
        "model": {
            "overrides": {"embed_dim": 32, "depth": 2, "num_heads": 2, "patch_size": 8},
            "proj_hidden": 64,
            "proj_bottleneck": 32,
            "proj_out": 64,
            "decoder_dim": 32,
        },
    },
    # The demo data on a laptop CPU: a small ViT from scratch, a few minutes.
    "demo": {
        "backbone": "vit_small_patch16_224",
        "weights": "none",
        "crop": 64,
        "batch": 8,
        "iters": 300,
        "lr": 5e-4,
        "amp": False,
        "method": dict(_FROM_SCRATCH),
        "model": {
            "overrides": {"embed_dim": 128, "depth": 4, "num_heads": 2, "patch_size": 8},
            "proj_hidden": 512,
            "proj_bottleneck": 128,
            "proj_out": 256,
            "decoder_dim": 128,
        },
    },
    # Your own small data on a CPU: a larger small ViT, about ten minutes on two cores.
    "cpu": {
        "backbone": "vit_small_patch16_224",
        "weights": "none",
        "crop": 96,
        "batch": 8,
        "iters": 500,
        "lr": 5e-4,
        "amp": False,
        "method": {**_FROM_SCRATCH, "mask_cell": 2},
        "model": {"overrides": _SMALL_VIT, **_SMALL_HEADS},
    },
    # One desktop GPU: DeiT-S from ImageNet weights, mixed precision.
    "gpu": {
        "backbone": "deit_small_patch16_224",
        "weights": "imagenet",
        "crop": 320,
        "batch": 8,
        "iters": 8000,
        "lr": 6e-5,
        "amp": True,
        "method": dict(_CORRECTED),
        "model": {},
    },
    # The paper's setting: DeiT-B/16, crop 448, batch 4, 20k iterations, the authors' method
    # throughout (their quirks included). Mixed precision is ours (the authors ran fp32) so that
    # it fits a 12 GB GPU; --no-amp gives fp32.
    "paper": {
        "backbone": "deit_base_patch16_224",
        "weights": "imagenet",
        "crop": 448,
        "batch": 4,
        "iters": 20000,
        "lr": 6e-5,
        "amp": True,
        "method": {},
        "model": {},
    },
}

# Settings a resumed run may change; any other given setting must agree with the run's.
RESUMABLE_CHANGES: Final = (
    "data",
    "iters",
    "device",
    "amp",
    "num_workers",
    "log_every",
    "save_every",
)


@dataclass
class TrainConfig:
    """Every setting of a run; `None` means "take it from the preset".

    `method` holds MethodConfig overrides (loss weights, CAM warm-up, ...): the method's own
    defaults live in MethodConfig alone, a preset's changes in its "method" entry, a user's on
    top of both.
    """

    data: str | None = None
    out: str | None = None
    preset: str | None = None
    backbone: str | None = None
    weights: str | None = None
    init: str | None = None
    resume: str | None = None
    iters: int | None = None
    batch: int | None = None
    crop: int | None = None
    lr: float | None = None
    device: str = "auto"
    amp: bool | None = None
    masks: str | None = None
    mask_images: list[str] | None = None
    corrected_ratio: float = 3.0
    seed: int | None = None
    log_every: int = 10
    save_every: int = 100
    num_workers: int = 0
    model: dict[str, Any] = field(default_factory=dict)
    method: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> TrainConfig:
        """A copy with the preset's values filled in wherever a setting was left unset."""
        name = self.preset or DEFAULT_PRESET
        if name not in PRESETS:
            raise InputError(None, f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        preset = PRESETS[name]
        values = asdict(self)
        values["preset"] = name
        values["seed"] = 0 if self.seed is None else self.seed
        for key, value in preset.items():
            if key in ("model", "method"):
                values[key] = {**value, **getattr(self, key)}
            elif values.get(key) is None:
                values[key] = value
        return TrainConfig(**values)

    def method_config(self) -> MethodConfig:
        """The MethodConfig of this (resolved) run."""
        try:
            return MethodConfig(**self.method)
        except TypeError as exc:
            raise InputError(None, f"unknown method setting ({exc})") from None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The inverse of to_dict; keys this version does not know are ignored.

        Runs written before the method settings moved to `method` keep them: their loss weights,
        CAM warm-up, mask cell and cosine switch are carried over.
        """
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        method = dict(values.get("method") or {})
        for old, new in _LEGACY_METHOD_KEYS.items():
            if data.get(old) is not None and new not in method:
                method[new] = data[old]
        values["method"] = method
        return cls(**values)

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        """Read the 'train' section of a run's config.json."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(path, f"cannot read run settings ({exc})") from None
        return cls.from_dict(data.get("train", data))


DEFAULT_PRESET: Final = "cpu"
_LEGACY_METHOD_KEYS: Final = {
    "w_aff": "w_aff",
    "w_mcc": "w_mcc",
    "w_seg": "w_seg",
    "w_reg": "w_reg",
    "cam_warmup": "cam_warmup_fraction",
    "mask_cell": "mask_cell",
    "mcc_cosine": "mcc_cosine",
}
