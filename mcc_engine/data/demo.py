"""The bundled demo data folder: small generated scenes with tags and their true masks."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Final

import cv2
import numpy as np

from mcc_engine.atomic import staged_directory
from mcc_engine.data.masks import write_mask
from mcc_engine.errors import InputError

DEMO_CLASSES: Final = ("sun", "leaf", "fish", "boat")
JPEG_QUALITY: Final = 92  # the demo images' compression
_MARKER: Final = "README.txt"
_README: Final = """MCC Annotate demo data
======================
Generated scenes of four classes (sun, leaf, fish, boat) on textured backgrounds.
images/        the images
tags.csv       image-level tags (the only supervision training sees)
classes.txt    the class order (index 1..4; 0 is background)
ground_truth/  the true masks, for `mcc eval` only
"""


def write_demo(
    out: str | Path,
    *,
    count: int = 320,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Write the demo data folder to `out` (created, or replacing an earlier demo)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / _MARKER).exists())):
        raise InputError(out, "destination exists and is not an earlier demo folder")
    rng = np.random.default_rng(seed)
    rows = []
    with staged_directory(out) as stage:
        (stage / "images").mkdir()
        for i in range(count):
            image, mask = render_scene(rng)
            name = f"images/scene_{i:04d}.jpg"
            ok, data = cv2.imencode(
                ".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
            )
            if not ok:
                raise InputError(stage / name, "JPEG encoding failed")
            (stage / name).write_bytes(data.tobytes())
            write_mask(stage / "ground_truth" / f"images/scene_{i:04d}.png", mask)
            present = sorted({int(v) for v in np.unique(mask) if 0 < v < 255})
            rows.append([name, ";".join(DEMO_CLASSES[k - 1] for k in present)])
            if progress is not None:
                progress(i + 1, count)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([["image", "tags"], *rows])
        (stage / "tags.csv").write_text(buffer.getvalue(), encoding="utf-8")
        (stage / "classes.txt").write_text("\n".join(DEMO_CLASSES) + "\n", encoding="utf-8")
        (stage / _MARKER).write_text(_README, encoding="utf-8")


def render_scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One scene: an RGB uint8 image and its class mask (0 background, 1..4 the classes)."""
    height, width = (int(v) for v in rng.integers(96, 161, size=2))
    image = _background(rng, height, width)
    mask = np.zeros((height, width), np.uint8)
    n_classes = 1 if rng.random() < 0.6 else 2
    classes = rng.choice(len(DEMO_CLASSES), size=n_classes, replace=False) + 1
    n_objects = int(rng.integers(n_classes, 4))
    for j in range(n_objects):
        cls = int(classes[j % n_classes])
        _draw_object(rng, image, mask, cls)
    # Occlusion may hide a class entirely; keep tags honest by reading them from the mask.
    return image, mask


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    top = rng.uniform(40, 200, size=3)
    bottom = rng.uniform(40, 200, size=3)
    t = np.linspace(0.0, 1.0, height)[:, None, None]
    image = top * (1 - t) + bottom * t + np.zeros((1, width, 1))
    noise = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 3)
    image += noise[:, :, None] * rng.uniform(10, 30)
    # Distractor blobs in object-like colours, so that colour alone is not the answer.
    for _ in range(int(rng.integers(0, 3))):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(4, 14)), int(rng.integers(4, 14)))
        colour = tuple(float(c) for c in rng.uniform(30, 230, size=3))
        cv2.ellipse(image, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    grain = rng.normal(0, 4, image.shape)
    return np.clip(image + grain, 0, 255).astype(np.uint8)


def _draw_object(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, cls: int) -> None:
    height, width = mask.shape
    size = float(rng.uniform(0.22, 0.5)) * min(height, width)
    cx = float(rng.uniform(size * 0.5, width - size * 0.5))
    cy = float(rng.uniform(size * 0.5, height - size * 0.5))
    shape = np.zeros_like(mask)
    shade = np.zeros((height, width, 3), np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if DEMO_CLASSES[cls - 1] == "sun":
        r = size / 2
        cv2.circle(shape, (round(cx), round(cy)), round(r), 1, -1)
        d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / max(r, 1)
        shade[:] = np.stack([255 - 10 * d, 200 - 90 * d, 40 + 20 * d], axis=-1)
    elif DEMO_CLASSES[cls - 1] == "leaf":
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(
            shape,
            (round(cx), round(cy)),
            (round(size / 2), round(size / 4.5)),
            angle,
            0,
            360,
            1,
            -1,
        )
        theta = np.deg2rad(angle)
        along = (xx - cx) * np.cos(theta) + (yy - cy) * np.sin(theta)
        across = -(xx - cx) * np.sin(theta) + (yy - cy) * np.cos(theta)
        vein = (np.abs(across) < 1.2) | (np.abs(np.sin(along / 3.0)) * np.abs(across) < 0.8)
        green = rng.uniform(110, 170)
        shade[:] = (50, green, 40)
        shade[vein] = (150, 210, 120)
    elif DEMO_CLASSES[cls - 1] == "fish":
        body = (round(size / 2.2), round(size / 4))
        facing = 1 if rng.random() < 0.5 else -1
        cv2.ellipse(shape, (round(cx), round(cy)), body, 0, 0, 360, 1, -1)
        tail_x = cx - facing * body[0]
        tail = np.array(
            [
                [tail_x, cy],
                [tail_x - facing * size / 3.5, cy - size / 4],
                [tail_x - facing * size / 3.5, cy + size / 4],
            ],
            np.int32,
        )
        cv2.fillPoly(shape, [tail], 1)
        stripes = (np.sin((xx - cx) / 2.5) > 0.3)[..., None]
        base = np.array((40, 120, rng.uniform(180, 240)), np.float32)
        shade[:] = np.where(stripes, base * 0.6, base)
    else:  # boat
        hull_w, hull_h = size * 0.9, size * 0.28
        top = cy + size * 0.1
        hull = np.array(
            [
                [cx - hull_w / 2, top],
                [cx + hull_w / 2, top],
                [cx + hull_w / 3, top + hull_h],
                [cx - hull_w / 3, top + hull_h],
            ],
            np.int32,
        )
        sail = np.array(
            [[cx, top - size * 0.6], [cx, top - 2], [cx + hull_w * 0.4, top - 2]], np.int32
        )
        cv2.fillPoly(shape, [hull, sail], 1)
        shade[:] = (rng.uniform(150, 200), 50, 40)
        sail_only = np.zeros_like(mask)
        cv2.fillPoly(sail_only, [sail], 1)
        shade[sail_only > 0] = (245, 245, 235)
    inside = shape > 0
    texture = rng.normal(0, 6, (height, width, 1)).astype(np.float32)
    image[inside] = np.clip(shade[inside] + texture[inside], 0, 255).astype(np.uint8)
    mask[inside] = cls


def render_demo_grid(demo: str | Path, path: str | Path, *, count: int = 8) -> None:
    """Save a picture of the first demo images beside their true masks (for the docs)."""
    from mcc_engine.data.images import read_image
    from mcc_engine.data.masks import read_mask, voc_colormap

    demo = Path(demo)
    cmap = voc_colormap()
    tiles = []
    for i in range(count):
        image = cv2.resize(read_image(demo / f"images/scene_{i:04d}.jpg"), (128, 128))
        mask = read_mask(demo / f"ground_truth/images/scene_{i:04d}.png")
        colour = cv2.resize(cmap[mask], (128, 128), interpolation=cv2.INTER_NEAREST)
        tiles.append(np.concatenate([image, colour], axis=0))
    grid = np.concatenate(tiles, axis=1)
    cv2.imwrite(str(path), grid[:, :, ::-1])
