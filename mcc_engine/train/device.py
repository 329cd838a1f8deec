"""Choosing a device and the mixed-precision settings that go with it."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from mcc_engine.errors import InputError


@dataclass
class DeviceSetup:
    """The device, and how autocast runs on it."""

    device: torch.device
    amp_dtype: torch.dtype | None

    @property
    def needs_scaler(self) -> bool:
        """fp16 needs loss scaling; bf16 and fp32 do not."""
        return self.amp_dtype is torch.float16

    def autocast(self):
        """The autocast context for forward passes (a no-op without AMP)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)


def pick_device(name: str = "auto") -> torch.device:
    """auto: CUDA, then Apple MPS, then CPU; or the named device, checked to exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(None, f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(
                None, f"device {name} asked for, but no CUDA GPU is available; use --device cpu"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(
                None, f"device {name} does not exist ({torch.cuda.device_count()} GPUs)"
            )
    return device


def setup_device(name: str, *, amp: bool) -> DeviceSetup:
    """The device plus AMP dtype: bf16 where supported, else fp16 with a scaler; TF32 on."""
    device = pick_device(name)
    if device.type != "cuda" or not amp:
        return DeviceSetup(device=device, amp_dtype=None)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return DeviceSetup(device=device, amp_dtype=dtype)


def device_label(device: torch.device) -> str:
    """A name for people: the GPU's name, or 'CPU'."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "Apple GPU (MPS)" if device.type == "mps" else "CPU"


def out_of_memory_message(*, crop: int, batch: int) -> str:
    """One line for a CUDA out-of-memory failure, with what to change."""
    return (
        f"the GPU ran out of memory at crop {crop} and batch {batch}; try a smaller --crop "
        f"(e.g. {max(64, crop // 2)}) or --batch, --amp, or --device cpu"
    )
