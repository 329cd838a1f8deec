"""The training views of one image (method.md step 1), as numpy functions with an explicit RNG."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mcc_engine.data.masks import IGNORE


@dataclass
class ViewConfig:
    """Sizes and probabilities of the augmentations."""

    crop: int = 448
    scale_range: tuple[float, float] = (0.5, 2.0)
    global_scale: tuple[float, float] = (0.4, 1.0)
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.2, 0.1)
    jitter_p: float = 0.8
    grey_p: float = 0.2
    blur_main_p: float = 1.0
    blur_global_p: float = 0.1
    solarize_p: float = 0.2
    blur_local_p: float = 0.5


@dataclass
class Geometry:
    """Where the main crop came from: rescale factor, flip, and the crop window."""

    scale: float
    flip: bool
    top: int
    left: int


def main_geometry(shape: tuple[int, int], cfg: ViewConfig, rng: np.random.Generator) -> Geometry:
    """Draw the rescale, flip and crop position of the main view."""
    scale = float(rng.uniform(*cfg.scale_range))
    height, width = (max(1, round(s * scale)) for s in shape)
    top = int(rng.integers(0, max(height - cfg.crop, 0) + 1))
    left = int(rng.integers(0, max(width - cfg.crop, 0) + 1))
    return Geometry(scale=scale, flip=bool(rng.random() < 0.5), top=top, left=left)


def apply_geometry(
    array: np.ndarray, geo: Geometry, crop: int, *, nearest: bool = False, fill: int = 0
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Rescale, flip, crop and pad an image (or a mask); returns it and the real-pixel box."""
    height, width = (max(1, round(s * geo.scale)) for s in array.shape[:2])
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    resized = cv2.resize(array, (width, height), interpolation=interp)
    if geo.flip:
        resized = resized[:, ::-1]
    window = resized[geo.top : geo.top + crop, geo.left : geo.left + crop]
    out = np.full((crop, crop, *array.shape[2:]), fill, dtype=array.dtype)
    out[: window.shape[0], : window.shape[1]] = window
    return out, (0, 0, window.shape[0], window.shape[1])


def colour_jitter(image: np.ndarray, cfg: ViewConfig, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast, saturation and hue jitter in random order (float32 0-1 RGB)."""
    b, c, s, h = cfg.jitter
    out = image
    for op in rng.permutation(4):
        if op == 0:
            out = out * rng.uniform(1 - b, 1 + b)
        elif op == 1:
            mean = (out @ np.array([0.299, 0.587, 0.114], np.float32)).mean()
            out = (out - mean) * rng.uniform(1 - c, 1 + c) + mean
        elif op == 2:
            grey = (out @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
            out = (out - grey) * rng.uniform(1 - s, 1 + s) + grey
        else:
            hsv = cv2.cvtColor(np.clip(out, 0, 1).astype(np.float32), cv2.COLOR_RGB2HSV)
            hsv[..., 0] = (hsv[..., 0] + rng.uniform(-h, h) * 360.0) % 360.0
            out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        out = np.clip(out, 0.0, 1.0)
    return out.astype(np.float32)


def photometric(
    image: np.ndarray, cfg: ViewConfig, rng: np.random.Generator, *, blur_p: float,
    solarize_p: float = 0.0, grey_p: float | None = None,
) -> np.ndarray:  # fmt: skip
    """Jitter, greyscale, Gaussian blur and solarisation of a float 0-1 RGB image."""
    out = image
    if rng.random() < cfg.jitter_p:
        out = colour_jitter(out, cfg, rng)
    if rng.random() < (cfg.grey_p if grey_p is None else grey_p):
        grey = out @ np.array([0.299, 0.587, 0.114], np.float32)
        out = np.repeat(grey[..., None], 3, axis=2)
    if rng.random() < blur_p:
        sigma = float(rng.uniform(0.1, 2.0))
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    if rng.random() < solarize_p:
        out = np.where(out >= 0.5, 1.0 - out, out)
    return out.astype(np.float32)


def random_resized_crop(
    image: np.ndarray, crop: int, scale: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """A random area fraction and aspect ratio of the image, resized to crop x crop."""
    height, width = image.shape[:2]
    for _ in range(10):
        area = height * width * rng.uniform(*scale)
        ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        w = round(np.sqrt(area * ratio))
        h = round(np.sqrt(area / ratio))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return cv2.resize(image[top : top + h, left : left + w], (crop, crop))
    return cv2.resize(image, (crop, crop))


def to_chw(image01: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Normalise a float 0-1 RGB image and move channels first."""
    return ((image01 - mean) / std).transpose(2, 0, 1).astype(np.float32)


def make_views(
    image: np.ndarray,
    mask: np.ndarray | None,
    *,
    cfg: ViewConfig,
    mean: np.ndarray,
    std: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Main view with its box (and mask), second global view, and the local source."""
    geo = main_geometry(image.shape[:2], cfg, rng)
    crop01, box = apply_geometry(image.astype(np.float32) / 255.0, geo, cfg.crop)
    real = np.zeros(crop01.shape[:2], bool)
    real[box[0] : box[2], box[1] : box[3]] = True
    main = photometric(crop01, cfg, rng, blur_p=cfg.blur_main_p) * real[..., None]
    local = photometric(crop01, cfg, rng, blur_p=cfg.blur_local_p, grey_p=0.0) * real[..., None]
    g2 = random_resized_crop(image.astype(np.float32) / 255.0, cfg.crop, cfg.global_scale, rng)
    if rng.random() < 0.5:
        g2 = g2[:, ::-1]
    g2 = photometric(np.ascontiguousarray(g2), cfg, rng, blur_p=cfg.blur_global_p,
                     solarize_p=cfg.solarize_p)  # fmt: skip
    if mask is None:
        crop_mask = np.full((cfg.crop, cfg.crop), IGNORE, np.uint8)
    else:
        crop_mask, _ = apply_geometry(mask, geo, cfg.crop, nearest=True, fill=IGNORE)
    # Padding is zero in the normalised input, as in the authors' pipeline.
    main_n = to_chw(main, mean, std) * real[None]
    local_n = to_chw(local, mean, std) * real[None]
    return {
        "image": main_n,
        "global2": to_chw(g2, mean, std),
        "local": local_n,
        "box": np.array(box, np.int64),
        "mask": crop_mask.astype(np.int64),
    }
