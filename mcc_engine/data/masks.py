"""Masks on disk: 8-bit palette PNGs (VOC colour map, 255 = unlabelled) and confidence maps."""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath
from typing import Final

import numpy as np
from PIL import Image

from mcc_engine.atomic import atomic_write_bytes
from mcc_engine.errors import InputError

IGNORE: Final = 255
BACKGROUND: Final = 0


def voc_colormap(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: n x 3 uint8, index 0 black, 255 near-white (224, 224, 192)."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


_PALETTE: Final = voc_colormap().flatten().tolist()


def mask_rel_path(image_rel_path: str) -> str:
    """The mask's relative path for an image's: same folders and stem, extension .png."""
    return str(PurePosixPath(image_rel_path).with_suffix(".png"))


def encode_mask(mask: np.ndarray) -> bytes:
    """PNG bytes of a class-index mask (H x W uint8) with the VOC palette."""
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f"a mask is a 2-D uint8 array, got {mask.dtype} {mask.shape}")
    image = Image.fromarray(mask, mode="P")
    image.putpalette(_PALETTE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue()


def write_mask(path: str | Path, mask: np.ndarray) -> None:
    """Write a class-index mask as a palette PNG, atomically."""
    atomic_write_bytes(path, encode_mask(mask))


def read_mask(path: str | Path, *, num_classes: int | None = None) -> np.ndarray:
    """Read a mask PNG as class indices (H x W uint8); palette PNGs keep their indices.

    With `num_classes` (background included), values other than 0..num_classes-1 and 255 are an
    error naming the file.
    """
    return _read_mask(Path(path), Path(path), num_classes=num_classes)


def decode_mask(data: bytes, *, name: str | Path) -> np.ndarray:
    """Decode mask PNG bytes (as `encode_mask` makes them); errors name `name`."""
    return _read_mask(io.BytesIO(data), Path(name), num_classes=None)


def _read_mask(source, path: Path, *, num_classes: int | None) -> np.ndarray:
    try:
        with Image.open(source) as image:
            image.load()
            if image.mode in ("P", "L"):
                mask = np.asarray(image, dtype=np.uint8).copy()
            elif image.mode in ("I;16", "I"):
                mask = np.asarray(image).astype(np.int64)
                if mask.max(initial=0) > 255:
                    raise InputError(path, "mask values exceed 255")
                mask = mask.astype(np.uint8)
            else:
                raise InputError(
                    path, f"a mask must be a palette or greyscale PNG, not {image.mode}"
                )
    except FileNotFoundError:
        raise InputError(path, "mask file not found") from None
    except InputError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(path, f"unreadable or truncated mask ({exc})") from None
    if num_classes is not None:
        bad = (mask >= num_classes) & (mask != IGNORE)
        if bad.any():
            value = int(mask[bad].max())
            raise InputError(
                path, f"mask value {value} is not a class (0..{num_classes - 1}) nor 255"
            )
    return mask


def encode_confidence(confidence: np.ndarray) -> bytes:
    """PNG bytes of a confidence map (float in [0, 1] or uint8) as 8-bit greyscale."""
    if confidence.dtype != np.uint8:
        confidence = np.clip(np.rint(confidence * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(confidence, mode="L").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def write_confidence(path: str | Path, confidence: np.ndarray) -> None:
    """Write a confidence map (float in [0, 1] or uint8) as an 8-bit greyscale PNG, atomically."""
    atomic_write_bytes(path, encode_confidence(confidence))


def read_confidence(path: str | Path) -> np.ndarray:
    """Read a confidence PNG as uint8 (0-255)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"), dtype=np.uint8).copy()
    except (OSError, ValueError) as exc:
        raise InputError(path, f"unreadable confidence map ({exc})") from None
