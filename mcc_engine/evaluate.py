"""Comparing predicted masks with true ones: confusion matrix, per-class IoU, mIoU."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcc_engine.data.masks import IGNORE, read_mask
from mcc_engine.errors import InputError


@dataclass
class Scores:
    """Per-class IoU (background first) and their mean over classes that occur.

    `unlabelled_pixels`: labelled pixels of the truth that the predictions left at 255; each is a
    miss for its true class.
    """

    names: list[str]
    iou: list[float | None]
    miou: float
    images: int
    unlabelled_pixels: int = 0


def confusion(pred: np.ndarray, gt: np.ndarray, n: int) -> np.ndarray:
    """n x (n + 1) counts, rows true class, columns predicted, the last column 255 predicted.

    255 in the truth is left out; values of either above n - 1 (other than 255) must not occur.
    """
    keep = gt != IGNORE
    predicted = pred[keep].astype(np.int64)
    predicted[predicted == IGNORE] = n
    index = gt[keep].astype(np.int64) * (n + 1) + predicted
    return np.bincount(index, minlength=n * (n + 1)).reshape(n, n + 1)


def iou_per_class(matrix: np.ndarray) -> list[float | None]:
    """IoU of each class from a confusion matrix; None where the class is in neither."""
    n = matrix.shape[0]
    inter = np.diag(matrix[:, :n]).astype(np.float64)
    union = matrix.sum(1) + matrix[:, :n].sum(0) - inter  # a 255 prediction is in its row only
    return [float(i / u) if u > 0 else None for i, u in zip(inter, union)]


def evaluate_folders(
    pred_dir: str | Path,
    gt_dir: str | Path,
    *,
    classes: list[str] | None = None,
    only: Iterable[str] | None = None,
    classes_from: str | Path | None = None,
) -> Scores:
    """Per-class IoU of the masks of `gt_dir` (or the relative paths in `only`) vs `pred_dir`."""
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    for folder in (pred_dir, gt_dir):
        if not folder.is_dir():
            raise InputError(folder, "mask folder not found")
    gts = sorted(p for p in gt_dir.rglob("*.png") if not p.name.startswith("."))
    if only is not None:
        wanted = set(only)
        gts = [p for p in gts if p.relative_to(gt_dir).as_posix() in wanted]
    if not gts:
        raise InputError(
            gt_dir, "no masks (*.png)" if only is None else "none of the masks asked for"
        )
    pairs = []
    top = 0
    for gt_path in gts:
        pred_path = pred_dir / gt_path.relative_to(gt_dir)
        if not pred_path.is_file():
            raise InputError(pred_path, "predicted mask missing for this ground-truth mask")
        gt, pred = read_mask(gt_path), read_mask(pred_path)
        if gt.shape != pred.shape:
            raise InputError(
                pred_path, f"size {pred.shape[::-1]} differs from the truth's {gt.shape[::-1]}"
            )
        for path, mask in ((gt_path, gt), (pred_path, pred)):
            value = int(mask[mask != IGNORE].max(initial=0))
            if classes and value > len(classes):
                listed = classes_from or "the class list"
                raise InputError(
                    path,
                    f"holds class {value}, but {listed} names only "
                    f"{len(classes)} classes (values 0..{len(classes)} and 255)",
                )
            top = max(top, value)
        pairs.append((pred, gt))
    n = len(classes) + 1 if classes else top + 1
    matrix = sum(confusion(p, g, n) for p, g in pairs)
    iou = iou_per_class(matrix)
    present = [v for v in iou if v is not None]
    names = ["background", *(classes or [f"class {k}" for k in range(1, n)])]
    return Scores(
        names=names,
        iou=iou,
        miou=float(np.mean(present)) if present else 0.0,
        images=len(pairs),
        unlabelled_pixels=int(matrix[:, n].sum()),
    )
