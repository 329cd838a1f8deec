"""Synthetic scenes for the interactive tools: objects of one colour on a textured background."""

import cv2
import numpy as np


def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A float RGB background: a vertical gradient with blurred noise and grain."""
    top, bottom = rng.uniform(60, 190, size=3), rng.uniform(60, 190, size=3)
    t = np.linspace(0.0, 1.0, height)[:, None, None]
    image = top * (1 - t) + bottom * t + np.zeros((1, width, 1))
    noise = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 3)
    return image + noise[:, :, None] * 20 + rng.normal(0, 3, (height, width, 3))


def ellipse_scene(
    seed: int = 0, *, size: tuple[int, int] = (120, 160), colour=(230, 60, 40)
) -> tuple[np.ndarray, np.ndarray]:
    """An RGB uint8 image with one filled ellipse of `colour` (a little grain), and its mask."""
    rng = np.random.default_rng(seed)
    height, width = size
    image = background(rng, height, width)
    mask = np.zeros(size, np.uint8)
    centre = (width // 2 + int(rng.integers(-10, 11)), height // 2 + int(rng.integers(-10, 11)))
    axes = (int(width * rng.uniform(0.15, 0.25)), int(height * rng.uniform(0.15, 0.25)))
    cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    obj = np.asarray(colour, np.float64) + rng.normal(0, 4, (height, width, 3))
    image[mask.astype(bool)] = obj[mask.astype(bool)]
    return np.clip(image, 0, 255).astype(np.uint8), mask.astype(bool)


def centre_of(mask: np.ndarray) -> tuple[int, int]:
    """(x, y) of the mask's pixel farthest from its border."""
    depth = cv2.distanceTransform(np.pad(mask.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(depth)), mask.shape)
    return int(x), int(y)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks."""
    return float((a & b).sum() / max(1, (a | b).sum()))
