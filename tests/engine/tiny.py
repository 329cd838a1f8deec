"""Tiny models and batches shared by engine tests (a ViT of dim 64, depth 4, patch 8)."""

import torch

from mcc_engine.model.network import ModelConfig, build_model

TINY = {
    "backbone": "vit_small_patch16_224",
    "img_size": 48,
    "overrides": {"embed_dim": 64, "depth": 4, "num_heads": 2, "patch_size": 8},
    "proj_hidden": 64,
    "proj_bottleneck": 32,
    "proj_out": 64,
    "decoder_dim": 32,
}


def tiny_model(num_classes: int = 3, seed: int = 0):
    """A reproducible tiny MCC network."""
    torch.manual_seed(seed)
    return build_model(ModelConfig(num_classes=num_classes, **TINY))


def tiny_batch(size: int = 48, seed: int = 1, *, corrected: bool = True):
    """Two images: one weakly labelled, one (optionally) with a corrected mask."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.full((2, size, size), 255, dtype=torch.long)
    mask[1, : size // 2] = 0
    mask[1, size // 2 :] = 2
    return {
        "image": torch.randn(2, 3, size, size, generator=g),
        "global2": torch.randn(2, 3, size, size, generator=g),
        "local": torch.randn(2, 3, size, size, generator=g),
        "labels": torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]),
        "box": torch.tensor([[0, 0, size, size - 8], [8, 0, size, size]]),
        "mask": mask,
        "has_mask": torch.tensor([False, corrected]),
    }


def save_tiny_checkpoint(path, model, classes, *, crop: int | None = 32) -> None:
    """Write `model` (a tiny_model) as a run's checkpoint for `classes`, trained at `crop`."""
    data = {
        "model": model.state_dict(),
        "model_config": ModelConfig(num_classes=len(classes), **TINY).to_dict(),
        "classes": classes,
    }
    if crop is not None:
        data["train_config"] = {"crop": crop}
    torch.save(data, path)
