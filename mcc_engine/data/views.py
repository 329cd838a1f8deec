"""The training views of one image (method.md step 1), with the authors' image operations.

Each operation is the one the authors' data code applies (PIL resizes, torchvision's colour
jitter and greyscale, PIL's Gaussian blur and solarise, black padding at a random offset), with
its random parameters drawn from an explicit numpy generator so that a run can be replayed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torchvision.transforms.functional as TF
from PIL import Image, ImageFilter, ImageOps

from mcc_engine.data.masks import IGNORE


@dataclass
class ViewConfig:
    """Sizes and probabilities of the augmentations (the authors' values by default)."""

    crop: int = 448
    scale_range: tuple[float, float] = (0.5, 2.0)
    global_scale: tuple[float, float] = (0.4, 1.0)
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.2, 0.1)
    jitter_p: float = 0.8
    grey_p: float = 0.2
    blur_main_p: float = 1.0
    blur_global_p: float = 0.1
    blur_local_p: float = 0.5
    solarize_p: float = 0.2
    # Quirks of the authors' data code, kept by default; presets for our own use turn them off.
    # The main view's own flip does not mirror the real-pixel box.
    quirk_box_unflipped: bool = True
    # The local source flips on its own, so its masks and flags (from the main view's CAM) are
    # mirrored half the time.
    quirk_local_flip: bool = True


@dataclass
class Crop:
    """The main crop: the rescaled, flipped, padded and cropped image, its mask and box."""

    image: Image.Image
    mask: np.ndarray | None
    box: tuple[int, int, int, int]  # (y0, x0, y1, x1) of real pixels in the crop


def random_crop(
    image: np.ndarray, mask: np.ndarray | None, crop: int, rng: np.random.Generator
) -> Crop:
    """Pad to at least crop x crop with black at a random offset, then a random crop window."""
    h, w = image.shape[:2]
    height, width = max(crop, h), max(crop, w)
    pad_y, pad_x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    top, left = int(rng.integers(0, height - crop + 1)), int(rng.integers(0, width - crop + 1))
    padded = np.zeros((height, width, 3), np.uint8)
    padded[pad_y : pad_y + h, pad_x : pad_x + w] = image
    window = padded[top : top + crop, left : left + crop]
    box = (
        max(pad_y - top, 0),
        max(pad_x - left, 0),
        min(crop, h + pad_y - top),
        min(crop, w + pad_x - left),
    )
    cropped_mask = None
    if mask is not None:
        full = np.full((height, width), IGNORE, np.uint8)
        full[pad_y : pad_y + h, pad_x : pad_x + w] = mask
        cropped_mask = full[top : top + crop, left : left + crop]
    return Crop(Image.fromarray(np.ascontiguousarray(window)), cropped_mask, box)


def main_crop(
    image: np.ndarray, mask: np.ndarray | None, cfg: ViewConfig, rng: np.random.Generator
) -> Crop:
    """Rescale by a factor in scale_range (bilinear), flip with p 0.5, pad and crop."""
    scale = float(rng.uniform(*cfg.scale_range))
    h, w = image.shape[:2]
    size = (max(1, int(scale * w)), max(1, int(scale * h)))
    image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
    if mask is not None:
        mask = np.asarray(Image.fromarray(mask).resize(size, Image.NEAREST))
    if rng.random() > 0.5:
        image = image[:, ::-1]
        mask = None if mask is None else mask[:, ::-1]
    return random_crop(image, mask, cfg.crop, rng)


def colour_jitter(image: Image.Image, cfg: ViewConfig, rng: np.random.Generator) -> Image.Image:
    """torchvision's ColorJitter: brightness, contrast, saturation and hue in a random order."""
    b, c, s, h = cfg.jitter
    factors = (
        rng.uniform(1 - b, 1 + b),
        rng.uniform(1 - c, 1 + c),
        rng.uniform(1 - s, 1 + s),
        rng.uniform(-h, h),
    )
    ops = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for index in rng.permutation(4):
        image = ops[index](image, float(factors[index]))
    return image


def photometric(
    image: Image.Image,
    cfg: ViewConfig,
    rng: np.random.Generator,
    *,
    blur_p: float,
    solarize_p: float = 0.0,
) -> Image.Image:
    """Colour jitter (p jitter_p), greyscale (p grey_p), Gaussian blur and solarisation."""
    if rng.random() < cfg.jitter_p:
        image = colour_jitter(image, cfg, rng)
    if rng.random() < cfg.grey_p:
        image = TF.rgb_to_grayscale(image, num_output_channels=3)
    if rng.random() <= blur_p:
        image = image.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.1, 2.0))))
    if rng.random() < solarize_p:
        image = ImageOps.solarize(image)
    return image


def random_resized_crop(
    image: Image.Image, crop: int, scale: tuple[float, float], rng: np.random.Generator
) -> Image.Image:
    """torchvision's RandomResizedCrop (aspect 3/4 to 4/3) to crop x crop, bicubic."""
    width, height = image.size
    area = height * width
    log_ratio = (math.log(3 / 4), math.log(4 / 3))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
            break
    else:  # the central crop at the nearest allowed aspect ratio
        ratio = width / height
        w, h = width, height
        if ratio < 3 / 4:
            h = round(width / (3 / 4))
        elif ratio > 4 / 3:
            w = round(height * (4 / 3))
        top, left = (height - h) // 2, (width - w) // 2
    return image.crop((left, top, left + w, top + h)).resize((crop, crop), Image.BICUBIC)


def flip(image: Image.Image, yes: bool) -> Image.Image:
    """Mirror left-right when `yes`."""
    return image.transpose(Image.FLIP_LEFT_RIGHT) if yes else image


def to_chw(image: Image.Image, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Normalise an RGB image (value / 255, minus mean, over std) and move channels first."""
    array = np.asarray(image, np.float32) / 255.0
    return ((array - mean) / std).transpose(2, 0, 1).astype(np.float32)


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
    crop = main_crop(image, mask, cfg, rng)
    main_flip = bool(rng.random() < 0.5)
    local_flip = bool(rng.random() < 0.5) if cfg.quirk_local_flip else main_flip
    main = photometric(flip(crop.image, main_flip), cfg, rng, blur_p=cfg.blur_main_p)
    local = photometric(flip(crop.image, local_flip), cfg, rng, blur_p=cfg.blur_local_p)
    g2 = random_resized_crop(Image.fromarray(image), cfg.crop, cfg.global_scale, rng)
    g2 = photometric(
        flip(g2, bool(rng.random() < 0.5)),
        cfg,
        rng,
        blur_p=cfg.blur_global_p,
        solarize_p=cfg.solarize_p,
    )
    y0, x0, y1, x1 = crop.box
    if main_flip and not cfg.quirk_box_unflipped:
        x0, x1 = cfg.crop - x1, cfg.crop - x0
    if crop.mask is None:
        crop_mask = np.full((cfg.crop, cfg.crop), IGNORE, np.uint8)
    else:  # a corrected mask always follows the main view's pixels
        crop_mask = crop.mask[:, ::-1] if main_flip else crop.mask
    return {
        "image": to_chw(main, mean, std),
        "global2": to_chw(g2, mean, std),
        "local": to_chw(local, mean, std),
        "box": np.array((y0, x0, y1, x1), np.int64),
        "mask": np.ascontiguousarray(crop_mask).astype(np.int64),
    }
