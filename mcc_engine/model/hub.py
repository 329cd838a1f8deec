"""ImageNet weights of a backbone in the Hugging Face hub cache: find, download, or install a
local file there.

The engine loads ImageNet weights through timm, which reads them from the hub cache. So both ways
of getting weights end in that cache: a download puts the hub's file there, and a local timm state
dict is checked against the backbone and stored there in the same form. Later runs (the app's and
`mcc train --weights imagenet`) then find the weights without a network.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final

from mcc_engine.errors import Cancelled, InputError
from mcc_engine.train.config import PRESETS

PROBE_TIMEOUT: Final = 5.0  # seconds; a closed network must fail fast, not after the hub's retries
WEIGHT_FILES: Final = ("model.safetensors", "pytorch_model.bin")  # the order timm tries them
SCRATCH_PRESETS: Final = tuple(
    n for n, p in PRESETS.items() if p["weights"] == "none" and n != "tiny"
)


def _hub_repo(backbone: str) -> tuple[str, str | None] | None:
    import timm

    cfg = timm.models.get_pretrained_cfg(backbone)
    if cfg is None or not cfg.hf_hub_id:
        return None
    repo, _, revision = cfg.hf_hub_id.partition("@")
    return repo, revision or None


def cached_weights(backbone: str) -> Path | None:
    """The backbone's ImageNet weights file in the hub cache, or None when there is none."""
    from huggingface_hub import try_to_load_from_cache

    source = _hub_repo(backbone)
    if source is None:
        return None
    for filename in WEIGHT_FILES:
        found = try_to_load_from_cache(source[0], filename, revision=source[1])
        if isinstance(found, str):
            return Path(found)
    return None


def missing_weights(preset: str) -> str | None:
    """The backbone whose ImageNet weights `preset` needs and the cache lacks, else None."""
    settings = PRESETS.get(preset, {})
    if settings.get("weights") != "imagenet" or cached_weights(settings["backbone"]):
        return None
    return settings["backbone"]


def hub_reachable(timeout: float = PROBE_TIMEOUT) -> bool:
    """One HEAD request to the hub with the hub's own HTTP client; False when offline or slow."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    answered: list[bool] = []

    def probe() -> None:
        try:
            get_session().head(constants.ENDPOINT, timeout=timeout)
            answered.append(True)
        except Exception:  # DNS, refused, TLS or timeout: all mean "cannot download now"
            answered.append(False)

    # A daemon thread bounds the wait even where name resolution ignores the timeout.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return bool(answered and answered[0])


def _progress_bar_class(progress: Callable, should_stop: Callable[[], bool]):
    from tqdm import tqdm

    class Reporter(tqdm):
        """The hub's progress bar, turned into progress callbacks and a place to cancel."""

        def __init__(self, *args, **kwargs) -> None:
            kwargs["file"] = io.StringIO()  # no console in a windowed app
            kwargs.pop("name", None)
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            result = super().update(n)
            # Xet downloads add a bar of network bytes with a guessed total; the file bar is enough.
            if not str(self.desc).endswith("downloading bytes"):
                progress((int(self.n), int(self.total or 0)))
            if should_stop():
                raise Cancelled()
            return result

    return Reporter


def download_weights(
    backbone: str,
    *,
    progress: Callable,
    should_stop: Callable[[], bool],
    timeout: float = PROBE_TIMEOUT,
) -> Path | None:
    """Download the backbone's ImageNet weights into the hub cache; None when offline."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    source = _hub_repo(backbone)
    if source is None:
        raise InputError(None, f"timm has no downloadable ImageNet weights for {backbone}")
    if constants.HF_HUB_OFFLINE or not hub_reachable(timeout):
        return None
    bar = _progress_bar_class(progress, should_stop)
    for filename in WEIGHT_FILES:
        try:
            return Path(
                hf_hub_download(
                    source[0], filename, revision=source[1], etag_timeout=timeout, tqdm_class=bar
                )
            )
        except EntryNotFoundError:
            continue
    raise InputError(None, f"the hub has no weights file for {backbone}")


def install_local_weights(backbone: str, path: str | Path) -> Path:
    """Check a timm state dict against the backbone and store it where timm looks for weights."""
    import safetensors.torch
    import timm
    from huggingface_hub import constants

    from mcc_engine.atomic import atomic_path, atomic_write_text
    from mcc_engine.model.weights import read_checkpoint, state_dict_of

    path = Path(path)
    state = state_dict_of(read_checkpoint(path))
    own = timm.create_model(backbone, pretrained=False).state_dict()
    body = {k: v for k, v in state.items() if not k.startswith("head.")}
    wanted = {k for k in own if not k.startswith("head.")}
    if set(body) != wanted:
        missing = sorted(wanted - set(body)) or sorted(set(body) - wanted)
        raise InputError(path, f"not a timm state dict of {backbone} (e.g. {missing[0]})")
    for key, value in body.items():
        if value.shape != own[key].shape and key != "pos_embed":  # timm resizes pos_embed itself
            raise InputError(
                path, f"not weights of {backbone}: {key} has shape {tuple(value.shape)}"
            )
    source = _hub_repo(backbone)
    if source is None:
        raise InputError(None, f"timm keeps no weights cache for {backbone}; use --weights FILE")
    repo, revision = source
    # The hub cache layout: refs/<revision> names a snapshot folder that holds the files.
    folder = Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}"
    snapshot = hashlib.sha1(path.read_bytes()).hexdigest()
    target = folder / "snapshots" / snapshot / WEIGHT_FILES[0]
    tensors = {k: v.detach().contiguous().clone() for k, v in state.items()}
    with atomic_path(target) as tmp:
        safetensors.torch.save_file(tensors, str(tmp))
    atomic_write_text(folder / "refs" / (revision or "main"), snapshot)
    return target
