"""Instances from a class mask: one per connected component of each class."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mcc_engine.data.masks import IGNORE


@dataclass
class Component:
    """One connected region of one class: its pixels, box (x, y, w, h) and area."""

    label: int
    pixels: np.ndarray  # bool H x W
    bbox: tuple[int, int, int, int]
    area: int


def components(mask: np.ndarray) -> list[Component]:
    """Connected components (8-connectivity) of every class present, background and 255 excluded."""
    found = []
    for label in np.unique(mask):
        if label in (0, IGNORE):
            continue
        count, ids, stats, _ = cv2.connectedComponentsWithStats(
            (mask == label).astype(np.uint8), connectivity=8
        )
        for i in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[i])
            found.append(Component(int(label), ids == i, (x, y, w, h), area))
    return found


def instance_mask(mask: np.ndarray) -> np.ndarray:
    """VOC SegmentationObject: instance numbers 1..N, 0 background, 255 kept where unlabelled."""
    out = np.zeros_like(mask)
    for number, comp in enumerate(components(mask), start=1):
        out[comp.pixels] = min(number, 254)
    out[mask == IGNORE] = IGNORE
    return out
