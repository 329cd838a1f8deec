"""Reading images robustly: EXIF orientation, and any mode converted to 8-bit RGB."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mcc_engine.errors import InputError

IMAGE_EXTENSIONS: Final = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})

# Orientations 5-8 swap width and height.
_SWAPPING_ORIENTATIONS: Final = frozenset({5, 6, 7, 8})


def is_image_file(path: Path) -> bool:
    """Whether the file name has one of the supported image extensions (any case)."""
    return path.suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image as H x W x 3 uint8 RGB with its EXIF orientation applied.

    Grey, palette, 16-bit and float images are scaled to 8 bits; CMYK is converted; an alpha
    channel is composited over white, as viewers show it.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_rgb(image)
    except FileNotFoundError:
        raise InputError(path, "image file not found") from None
    except UnidentifiedImageError:
        raise InputError(path, "not an image, or a format that cannot be read") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(path, f"unreadable or truncated image ({exc})") from None


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) after EXIF orientation, read from the header only."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except FileNotFoundError:
        raise InputError(path, "image file not found") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InputError(path, f"unreadable image ({exc})") from None
    if orientation in _SWAPPING_ORIENTATIONS:
        return height, width
    return width, height


def _to_rgb(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else max(float(values.max(initial=0.0)), 1.0)
        if mode == "F":
            low = float(values.min(initial=0.0))
            top = max(float(values.max(initial=1.0)) - low, 1e-12)
            values = values - low
        elif mode == "I" and top <= 255:
            top = 255.0
        grey = np.clip(np.rint(values / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8).copy()
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
