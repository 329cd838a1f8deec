"""A second scene generator, unlike the demo's, to check conclusions on data nobody tuned on.

Cluttered, textured backgrounds (stripes, checks, noise, scattered shapes in the same colours as
the objects) and four classes that share one colour range and differ by shape and texture only:
star, ring, cross and pill. Images, tags.csv, classes.txt and true masks, like the demo folder.

    python bench/scenes.py --out /tmp/scenes --count 320 --seed 0
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np

from mcc_engine.data.masks import write_mask

CLASSES = ("star", "ring", "cross", "pill")


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A colour from the range every class and the clutter share."""
    hue = rng.uniform(0, 180)
    hsv = np.uint8([[[hue, rng.uniform(120, 230), rng.uniform(120, 240)]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    a, b = _colour(rng) * 0.6, _colour(rng) * 0.6
    kind = rng.integers(0, 3)
    if kind == 0:  # stripes at an angle
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(6, 18)
        t = (np.sin((xx * np.cos(theta) + yy * np.sin(theta)) / period * 2 * np.pi) > 0)[..., None]
    elif kind == 1:  # checks
        cell = int(rng.integers(6, 16))
        t = (((xx // cell) + (yy // cell)) % 2 == 0)[..., None]
    else:  # blotchy noise
        noise = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 5)
        t = (noise > 0)[..., None]
    image = np.where(t, a, b) + rng.normal(0, 10, (height, width, 3))
    for _ in range(int(rng.integers(3, 9))):  # clutter in the objects' colours
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        colour = tuple(float(c) for c in _colour(rng))
        if rng.random() < 0.5:
            cv2.rectangle(
                image,
                centre,
                (centre[0] + int(rng.integers(4, 16)), centre[1] + int(rng.integers(4, 16))),
                colour,
                -1,
            )
        else:
            cv2.line(
                image,
                centre,
                (int(rng.integers(0, width)), int(rng.integers(0, height))),
                colour,
                int(rng.integers(1, 4)),
            )
    return image


def _shape(cls: str, rng, size: float, cx: float, cy: float, shape: np.ndarray) -> None:
    angle = rng.uniform(0, 2 * np.pi)
    if cls == "star":
        points = []
        for k in range(10):
            r = size / 2 if k % 2 == 0 else size / 5
            a = angle + k * np.pi / 5
            points.append([cx + r * np.cos(a), cy + r * np.sin(a)])
        cv2.fillPoly(shape, [np.array(points, np.int32)], 1)
    elif cls == "ring":
        cv2.circle(shape, (round(cx), round(cy)), round(size / 2), 1, -1)
        cv2.circle(shape, (round(cx), round(cy)), round(size / 4), 0, -1)
    elif cls == "cross":
        w = max(2, round(size / 6))
        for a in (angle, angle + np.pi / 2):
            dx, dy = np.cos(a) * size / 2, np.sin(a) * size / 2
            cv2.line(
                shape, (round(cx - dx), round(cy - dy)), (round(cx + dx), round(cy + dy)), 1, w
            )
    else:  # pill
        box = ((cx, cy), (size, size / 2.6), np.degrees(angle))
        cv2.ellipse(shape, box, 1, -1)


def render(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One cluttered scene and its mask (0 background, 1..4 the classes)."""
    height, width = (int(v) for v in rng.integers(96, 161, size=2))
    image = _background(rng, height, width)
    mask = np.zeros((height, width), np.uint8)
    classes = rng.choice(4, size=1 if rng.random() < 0.6 else 2, replace=False) + 1
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for j in range(int(rng.integers(len(classes), 4))):
        cls = int(classes[j % len(classes)])
        size = float(rng.uniform(0.25, 0.5)) * min(height, width)
        cx = float(rng.uniform(size / 2, width - size / 2))
        cy = float(rng.uniform(size / 2, height - size / 2))
        shape = np.zeros_like(mask)
        _shape(CLASSES[cls - 1], rng, size, cx, cy, shape)
        inside = shape > 0
        base = _colour(rng)
        # Texture tells classes apart as much as shape: dots, stripes, smooth, speckle.
        pattern = (
            np.sin(xx / 2.0) * np.sin(yy / 2.0),
            np.sin((xx + yy) / 2.5),
            np.zeros_like(xx),
            rng.normal(0, 0.6, xx.shape),
        )[cls - 1]
        shade = base[None, None] * (1 + 0.25 * pattern[..., None])
        image[inside] = shade[inside]
        mask[inside] = cls
    image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    return image, mask


def write_scenes(out: Path, *, count: int, seed: int) -> None:
    """A data folder of `count` cluttered scenes with tags.csv, classes.txt and ground_truth/."""
    rng = np.random.default_rng(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        image, mask = render(rng)
        name = f"images/clutter_{i:04d}.jpg"
        cv2.imwrite(str(out / name), image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        write_mask(out / "ground_truth" / f"images/clutter_{i:04d}.png", mask)
        present = sorted({int(v) for v in np.unique(mask) if 0 < v < 255})
        rows.append([name, ";".join(CLASSES[k - 1] for k in present)])
    with open(out / "tags.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows([["image", "tags"], *rows])
    (out / "classes.txt").write_text("\n".join(CLASSES) + "\n", encoding="utf-8")


def main() -> None:
    """Command line: write a folder of cluttered scenes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=320)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_scenes(args.out, count=args.count, seed=args.seed)
    print(f"wrote {args.count} scenes to {args.out}")


if __name__ == "__main__":
    main()
