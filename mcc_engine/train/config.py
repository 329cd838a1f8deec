"""Training settings: one dataclass with a JSON round trip, and the named presets."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from mcc_engine.errors import InputError

_SMALL_VIT: Final = {"embed_dim": 192, "depth": 6, "num_heads": 3, "patch_size": 8}
_SMALL_HEADS: Final = {"proj_hidden": 512, "proj_bottleneck": 128, "proj_out": 256,
                       "decoder_dim": 256}  # fmt: skip

PRESETS: Final[dict[str, dict[str, Any]]] = {
    # For tests and smoke checks only: learns nothing useful, runs in a second.
    "tiny": {
        "backbone": "vit_small_patch16_224", "weights": "none", "crop": 32, "batch": 2,
        "iters": 4, "lr": 1e-3, "amp": False,
        "model": {"overrides": {"embed_dim": 32, "depth": 2, "num_heads": 2, "patch_size": 8},
                  "proj_hidden": 64, "proj_bottleneck": 32, "proj_out": 64, "decoder_dim": 32},
    },
    # The demo data on a laptop CPU: a small ViT from scratch, a few minutes.
    "demo": {
        "backbone": "vit_small_patch16_224", "weights": "none", "crop": 64, "batch": 8,
        "iters": 300, "lr": 5e-4, "amp": False,
        "model": {"overrides": {"embed_dim": 128, "depth": 4, "num_heads": 2, "patch_size": 8},
                  "proj_hidden": 512, "proj_bottleneck": 128, "proj_out": 256, "decoder_dim": 128},
    },
    # Your own small data on a CPU: a larger small ViT, about ten minutes on two cores.
    "cpu": {
        "backbone": "vit_small_patch16_224", "weights": "none", "crop": 96, "batch": 8,
        "iters": 500, "lr": 5e-4, "amp": False, "mask_cell": 2,
        "model": {"overrides": _SMALL_VIT, **_SMALL_HEADS},
    },
    # One desktop GPU: DeiT-S from ImageNet weights, mixed precision.
    "gpu": {
        "backbone": "deit_small_patch16_224", "weights": "imagenet", "crop": 320, "batch": 8,
        "iters": 8000, "lr": 6e-5, "amp": True, "model": {},
    },
    # The paper's setting: DeiT-B/16, crop 448, batch 4, 20k iterations.
    "paper": {
        "backbone": "deit_base_patch16_224", "weights": "imagenet", "crop": 448, "batch": 4,
        "iters": 20000, "lr": 6e-5, "amp": True, "model": {},
    },
}  # fmt: skip


@dataclass
class TrainConfig:
    """Every setting of a run; `None` means "take it from the preset"."""

    data: str | None = None
    out: str | None = None
    preset: str = "cpu"
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
    w_aff: float = 0.2
    w_mcc: float = 0.5
    w_seg: float = 0.1
    w_reg: float = 0.05
    mask_cell: int | None = None
    cam_warmup: float | None = None
    mcc_cosine: bool = True
    masks: str | None = None
    mask_images: list[str] | None = None
    corrected_ratio: float = 3.0
    seed: int = 0
    log_every: int = 10
    save_every: int = 100
    num_workers: int = 0
    model: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> TrainConfig:
        """A copy with the preset's values filled in wherever a setting was left unset."""
        if self.preset not in PRESETS:
            raise InputError(
                None, f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}"
            )
        preset = PRESETS[self.preset]
        values = asdict(self)
        for key, value in preset.items():
            if key == "model":
                values["model"] = {**value, **self.model}
            elif values.get(key) is None:
                values[key] = value
        return TrainConfig(**values)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The inverse of to_dict; keys this version does not know are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        """Read the 'train' section of a run's config.json."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(path, f"cannot read run settings ({exc})") from None
        return cls.from_dict(data.get("train", data))
