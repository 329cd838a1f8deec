"""Loading weights: ImageNet through timm, a local timm state dict, or a whole MCC checkpoint."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from timm.layers import resample_abs_pos_embed

from mcc_engine.errors import InputError

# Rows of these tensors are per class; a checkpoint of another tag set cannot fill them as is.
_PER_CLASS = (
    "classifier.weight",
    "aux_classifier.weight",
    "decoder.conv8.weight",
    "decoder.conv8.bias",  # checkpoints before 0.2 only
)
# The encoder's ImageNet classifier: the authors' checkpoints carry it, no MCC output uses it.
_UNUSED = ("encoder.head.weight", "encoder.head.bias")


@dataclass
class LoadReport:
    """What a weights file filled, and what it could not (class rows of another tag set)."""

    loaded: int = 0
    reinitialised: list[str] = field(default_factory=list)
    copied_classes: list[str] = field(default_factory=list)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """torch.load with weights_only=True; anything that is not a dict of tensors is refused."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "weights file not found")
    try:
        with warnings.catch_warnings():
            # torch warns (two lines) before refusing a pickle; our one line says it all.
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for foreign files; all mean the same here
        raise InputError(
            path, f"not a checkpoint that can be loaded safely ({type(exc).__name__})"
        ) from None
    if not isinstance(data, dict):
        raise InputError(path, "not a checkpoint (expected a dict of tensors)")
    return data


def load_run_checkpoint(path: str | Path):
    """(model, checkpoint dict) of one of our runs' checkpoints, built from its own settings."""
    from mcc_engine.model.network import ModelConfig, build_model

    data = read_checkpoint(path)
    if "model_config" not in data or "model" not in data:
        raise InputError(path, "not an MCC Annotate checkpoint (no model settings inside)")
    model = build_model(ModelConfig.from_dict(data["model_config"]))
    try:
        model.load_state_dict(data["model"], strict=True)
    except RuntimeError as exc:
        raise InputError(
            path, f"weights do not fit the model ({str(exc).splitlines()[0]})"
        ) from None
    return model, data


def state_dict_of(data: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint, unwrapped from 'model'/'state_dict' and without 'module.'."""
    for key in ("model", "state_dict", "model_state"):
        if isinstance(data.get(key), dict):
            data = data[key]
            break
    state = {k.removeprefix("module."): v for k, v in data.items() if isinstance(v, torch.Tensor)}
    return state


def load_imagenet(model) -> None:
    """Fill the encoder with the backbone's ImageNet weights through timm's hub cache."""
    import timm

    name = model.cfg.backbone
    try:
        source = timm.create_model(name, pretrained=True, num_classes=0)
    except Exception as exc:  # offline, hub errors, missing weights: one message for the user
        raise InputError(
            None,
            f"could not download the ImageNet weights of {name} ({type(exc).__name__}); "
            "connect to the internet, or pass --weights FILE with a local timm state dict, "
            "or --weights none to train from scratch",
        ) from None
    _load_encoder(model, source.state_dict(), Path(f"<imagenet {name}>"))


def weights_architecture(data: dict[str, Any]) -> dict[str, Any]:
    """Model settings that a checkpoint's weights fix whatever the preset says: a decoder with
    biases (MCC Annotate before 0.2), so that an older project's model can still be fine-tuned."""
    state = state_dict_of(data)
    return {"decoder_bias": True} if "decoder.conv6.bias" in state else {}


def load_weights_file(
    model,
    path: str | Path,
    *,
    classes: list[str] | None = None,
    data: dict[str, Any] | None = None,
) -> LoadReport:
    """Load a timm ViT state dict into the encoder, or an MCC checkpoint into the whole model.

    An MCC checkpoint of another tag set keeps its encoder, decoder trunk and projectors; class
    rows are copied for class names both lists share (when the file names its classes) and the
    other rows keep their fresh initialisation, which the report lists. `data`: the file's
    contents when the caller has read them already.
    """
    path = Path(path)
    data = read_checkpoint(path) if data is None else data
    state = state_dict_of(data)
    if not state:
        raise InputError(path, "holds no weights")
    if any(k.startswith("encoder.") for k in state):
        return _load_full(model, state, path, classes=classes, file_classes=data.get("classes"))
    if "patch_embed.proj.weight" in state:
        return _load_encoder(model, state, path)
    raise InputError(path, "neither a timm ViT state dict nor an MCC checkpoint")


def _fit_pos_embed(model, state: dict[str, torch.Tensor]) -> None:
    key = "pos_embed"
    target = model.encoder.pos_embed
    if key in state and state[key].shape != target.shape and state[key].ndim == 3:
        prefix = 0 if getattr(model.encoder, "no_embed_class", False) else model.num_prefix
        old = round((state[key].shape[1] - prefix) ** 0.5)
        state[key] = resample_abs_pos_embed(
            state[key],
            new_size=model.encoder.patch_embed.grid_size,
            old_size=(old, old),
            num_prefix_tokens=prefix,
        )


def _load_encoder(model, state: dict[str, torch.Tensor], path: Path) -> LoadReport:
    state = {k: v for k, v in state.items() if not k.startswith("head.")}
    _fit_pos_embed(model, state)
    own = model.encoder.state_dict()
    _check_shapes(own, state, path, prefix="")
    missing = sorted(set(own) - set(state))
    if missing:
        raise InputError(path, f"missing encoder weights, e.g. {missing[0]}")
    unexpected = sorted(set(state) - set(own))
    if unexpected:
        raise InputError(path, f"unexpected weights for this backbone, e.g. {unexpected[0]}")
    model.encoder.load_state_dict(state, strict=True)
    return LoadReport(loaded=len(state))


def _load_full(model, state, path: Path, *, classes, file_classes) -> LoadReport:
    state = {k: v for k, v in state.items() if k not in _UNUSED}
    encoder_state = {k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")}
    _fit_pos_embed(model, encoder_state)
    state = {
        **{k: v for k, v in state.items() if not k.startswith("encoder.")},
        **{f"encoder.{k}": v for k, v in encoder_state.items()},
    }
    own = model.state_dict()
    report = LoadReport()
    per_class = {k: state.pop(k) for k in _PER_CLASS if k in state}
    _check_shapes(own, state, path, prefix="")
    unexpected = sorted(set(state) - set(own))
    if unexpected:
        raise InputError(path, f"unexpected weights for this model, e.g. {unexpected[0]}")
    missing = sorted(k for k in set(own) - set(state) if k not in _PER_CLASS)
    if missing:
        raise InputError(path, f"missing weights, e.g. {missing[0]}")
    merged = dict(own)
    merged.update(state)
    for key, value in per_class.items():
        if value.shape == own[key].shape and (file_classes is None or file_classes == classes):
            merged[key] = value
            continue
        report.reinitialised.append(key)
        rows = _matching_rows(key, file_classes, classes)
        if value.shape[1:] == own[key].shape[1:]:
            for src, dst in rows:
                merged[key][dst] = value[src]
    if report.reinitialised and file_classes and classes:
        known = {name.casefold() for name in file_classes}
        report.copied_classes = [name for name in classes if name.casefold() in known]
    model.load_state_dict(merged, strict=True)
    report.loaded = len(state) + len(per_class) - len(report.reinitialised)
    return report


def _matching_rows(key: str, file_classes, classes) -> list[tuple[int, int]]:
    if not file_classes or not classes:
        return []
    shift = 1 if "conv8" in key else 0  # the decoder's row 0 is background
    index = {name.casefold(): i for i, name in enumerate(file_classes)}
    rows = [
        (index[name.casefold()] + shift, i + shift)
        for i, name in enumerate(classes)
        if name.casefold() in index
    ]
    return ([(0, 0)] if shift else []) + rows


def _check_shapes(own, state, path: Path, *, prefix: str) -> None:
    for key, value in state.items():
        if key in own and own[key].shape != value.shape:
            raise InputError(
                path,
                f"wrong shapes: {prefix}{key} expects {tuple(own[key].shape)}, "
                f"the file has {tuple(value.shape)}",
            )
