"""Time exports of 1,000 masks of 512 x 512 (several classes, several components each).

Prints seconds for VOC, COCO with RLE and COCO with polygons, against the 20 s target.
Run: python bench/export.py [--count 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcc_engine.data.masks import write_mask
from mcc_engine.formats.export import export_dataset

CLASSES = ("cat", "dog", "car", "tree", "road")


def make_data(root: Path, count: int) -> None:
    """Images, tags and masks with 3-8 blobs of 1-3 classes each."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    rows = ["image,tags"]
    for i in range(count):
        mask = np.zeros((512, 512), np.uint8)
        for _ in range(int(rng.integers(3, 9))):
            centre = (int(rng.integers(40, 472)), int(rng.integers(40, 472)))
            axes = (int(rng.integers(10, 70)), int(rng.integers(10, 70)))
            cv2.ellipse(
                mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, int(rng.integers(1, 4)), -1
            )
        mask[rng.random((512, 512)) < 0.001] = 255
        image = np.full((512, 512, 3), 90, np.uint8)
        image[mask > 0] = 200
        cv2.imwrite(str(root / "images" / f"{i:05d}.jpg"), image)
        write_mask(root / "masks" / "images" / f"{i:05d}.png", mask)
        present = sorted({int(v) for v in np.unique(mask) if 0 < v < 255})
        rows.append(f"images/{i:05d}.jpg,{';'.join(CLASSES[k - 1] for k in present)}")
    (root / "tags.csv").write_text("\n".join(rows) + "\n")
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        make_data(root, args.count)
        print(f"{args.count} masks of 512x512, target under 20 s each")
        for fmt, seg in (("voc", "rle"), ("coco", "rle"), ("coco", "polygon")):
            start = time.perf_counter()
            summary = export_dataset(data=root, masks=root / "masks", fmt=fmt, out=Path(tmp) / f"{fmt}-{seg}",
                                     coco_segmentation=seg)  # fmt: skip
            seconds = time.perf_counter() - start
            label = fmt.upper() + (f" ({seg})" if fmt == "coco" else "")
            print(f"  {label:<16} {seconds:6.1f} s  ({seconds / 20:.2f} of the target)  "
                  f"{summary.annotations or len(summary.train) + len(summary.val)} items")  # fmt: skip


if __name__ == "__main__":
    main()
