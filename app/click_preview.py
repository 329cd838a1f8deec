"""How a click or box region shows on the canvas, apart from the committed mask: in the class
colour, see-through, inside a dashed outline; the clicks as dots (green +, red -); the box.

The outline, dots and box keep their screen size at every zoom (cosmetic pens, items that ignore
the view's scale); the region is drawn pixel for pixel, so it shows what Enter will write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
)

FILL_ALPHA: Final = 120  # the region's see-through class colour, out of 255
DOT: Final = 13  # click dots' diameter, screen pixels
INSIDE, OUTSIDE = QColor(30, 190, 80), QColor(230, 50, 50)


def _pens() -> tuple[QPen, QPen]:
    """A dark solid line under a light dashed one: visible on any picture."""
    under = QPen(QColor(0, 0, 0, 200), 3)
    over = QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.CustomDashLine)
    over.setDashPattern([4, 3])
    for pen in (under, over):
        pen.setCosmetic(True)
    return under, over


def region_outline(region: np.ndarray, offset: tuple[int, int] = (0, 0)) -> QPainterPath:
    """The boundary of a bool region as a path through its border pixels' centres (holes too)."""
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    path = QPainterPath()
    dx, dy = offset[0] + 0.5, offset[1] + 0.5
    for contour in contours:
        points = contour[:, 0, :].astype(np.float64)
        path.addPolygon(QPolygonF([QPointF(x + dx, y + dy) for x, y in points]))
        path.closeSubpath()
    return path


def _sign(plus: bool) -> QPainterPath:
    arm = DOT / 2 - 3
    path = QPainterPath(QPointF(-arm, 0))
    path.lineTo(arm, 0)
    if plus:
        path.moveTo(0, -arm)
        path.lineTo(0, arm)
    return path


class RegionView:
    """The scene items of one region; `show` replaces what they draw, `clear` hides them."""

    def __init__(self, scene: QGraphicsScene, *, z: float) -> None:
        self._fill = QGraphicsPixmapItem()
        self._fill.setTransformationMode(Qt.TransformationMode.FastTransformation)
        under, over = _pens()
        self._lines = [QGraphicsPathItem() for _ in range(2)]
        self._frames = [QGraphicsRectItem() for _ in range(2)]
        for item, pen in zip(self._lines + self._frames, (under, over) * 2, strict=True):
            item.setPen(pen)
        for item in (self._fill, *self._lines, *self._frames):
            item.setZValue(z)
            item.setVisible(False)
            scene.addItem(item)
        self._scene = scene
        self._z = z
        self._dots: list[QGraphicsEllipseItem] = []

    def show(
        self,
        region: np.ndarray | None,
        *,
        colour: tuple[int, int, int],
        clicks: Sequence[tuple[float, float, bool]] = (),
        box: tuple[float, float, float, float] | None = None,
    ) -> None:
        """Draw a region (bool H x W; None: none yet), its clicks (x, y, inside) and box."""
        self.show_region(region, colour)
        self.show_box(box)
        self._show_clicks(clicks)

    def show_region(self, region: np.ndarray | None, colour: tuple[int, int, int]) -> None:
        """The region alone, in a class colour."""
        rows = np.flatnonzero(region.any(axis=1)) if region is not None else ()
        if not len(rows):
            for item in (self._fill, *self._lines):
                item.setVisible(False)
            return
        cols = np.flatnonzero(region.any(axis=0))
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        crop = region[y0:y1, x0:x1]
        rgba = np.zeros((*crop.shape, 4), np.uint8)
        rgba[crop] = [round(c * FILL_ALPHA / 255) for c in colour] + [FILL_ALPHA]
        fmt = QImage.Format.Format_RGBA8888_Premultiplied
        image = QImage(rgba.data, x1 - x0, y1 - y0, 4 * (x1 - x0), fmt)
        self._fill.setPixmap(QPixmap.fromImage(image))  # a copy: rgba may go
        self._fill.setOffset(x0, y0)
        path = region_outline(crop, (x0, y0))
        for line in self._lines:
            line.setPath(path)
        for item in (self._fill, *self._lines):
            item.setVisible(True)

    def show_box(self, box: tuple[float, float, float, float] | None) -> None:
        """A box (x0, y0, x1, y1 in image pixels, any corner order), or none."""
        for frame in self._frames:
            frame.setVisible(box is not None)
            if box is not None:
                x0, y0, x1, y1 = box
                frame.setRect(QRectF(QPointF(x0, y0), QPointF(x1, y1)).normalized())

    def _show_clicks(self, clicks: Sequence[tuple[float, float, bool]]) -> None:
        for dot in self._dots:
            self._scene.removeItem(dot)
        self._dots = []
        for x, y, inside in clicks:
            dot = QGraphicsEllipseItem(-DOT / 2, -DOT / 2, DOT, DOT)
            dot.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            dot.setBrush(QBrush(INSIDE if inside else OUTSIDE))
            dot.setPen(QPen(QColor(0, 0, 0, 220), 1.5))
            sign = QGraphicsPathItem(_sign(inside), dot)  # + or -, for eyes that mix the colours
            sign.setPen(QPen(QColor(255, 255, 255), 2))
            dot.setPos(x + 0.5, y + 0.5)  # the middle of the clicked pixel
            dot.setZValue(self._z + 1)
            self._scene.addItem(dot)
            self._dots.append(dot)

    def clear(self) -> None:
        """Hide everything."""
        self.show(None, colour=(0, 0, 0))
