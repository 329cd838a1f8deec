"""Scene layers of the canvas: the photo (or a heat map) and the mask overlay, both as QImages
over numpy buffers, kept as a pyramid of halved copies so that zoomed-out repaints stay cheap."""

from __future__ import annotations

import math

import cv2
import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem

Rect = tuple[int, int, int, int]  # x, y, width, height
MAX_LEVEL = 5
IGNORE = 255
# Unlabelled (255) is drawn as thin diagonal lines over a faint veil in the VOC "void" colour, so
# that it never looks like background (0, clear). The pattern repeats every HATCH level pixels.
HATCH = 8
HATCH_LINE, HATCH_VEIL = (224, 224, 192, 120), (224, 224, 192, 30)


def level_for(painter: QPainter, levels: int = MAX_LEVEL) -> int:
    """Pyramid level to draw at the painter's zoom: the smallest copy still at least as fine."""
    t = painter.worldTransform()
    scale = math.sqrt(abs(t.m11() * t.m22() - t.m12() * t.m21())) or 1.0
    return max(0, min(levels, math.floor(math.log2(1.0 / scale)) if scale < 1 else 0))


def _exposed(item: QGraphicsItem, option) -> QRectF:
    return option.exposedRect.intersected(item.boundingRect())


class PictureLayer(QGraphicsItem):
    """An RGB picture drawn from the pyramid level that matches the zoom."""

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self._levels: list[tuple[np.ndarray, QImage]] = []
        self._size = (1, 1)

    def set_rgb(self, rgb: np.ndarray) -> None:
        """Show an H x W x 3 (or premultiplied x 4) uint8 picture, kept by reference."""
        self.prepareGeometryChange()
        rgb = np.ascontiguousarray(rgb)
        self._size = (rgb.shape[1], rgb.shape[0])
        self._levels = [(rgb, _rgb_image(rgb))]
        self.update()

    def _level(self, k: int) -> QImage:
        while len(self._levels) <= k:
            prev = self._levels[-1][0]
            if min(prev.shape[:2]) < 64:
                break
            half = cv2.resize(
                prev,
                (max(1, prev.shape[1] // 2), max(1, prev.shape[0] // 2)),
                interpolation=cv2.INTER_AREA,
            )
            self._levels.append((half, _rgb_image(half)))
        return self._levels[min(k, len(self._levels) - 1)][1]

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, *self._size)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not self._levels:
            return
        image = self._level(level_for(painter))
        target = _exposed(self, option)
        sx, sy = image.width() / self._size[0], image.height() / self._size[1]
        source = QRectF(target.x() * sx, target.y() * sy, target.width() * sx, target.height() * sy)
        # Smooth when shrinking or slightly enlarging; from 3x on, show the pixels the mask labels.
        painter.setRenderHint(
            QPainter.RenderHint.SmoothPixmapTransform, painter.worldTransform().m11() < 3
        )
        painter.drawImage(target, image, source)


def _premultiplied(rgba: np.ndarray) -> np.ndarray:
    """RGBA8888 rows (N x 4 uint8) as premultiplied uint32 values."""
    wide = rgba.astype(np.uint16)
    wide[:, :3] = wide[:, :3] * wide[:, 3:] // 255
    return np.ascontiguousarray(wide.astype(np.uint8)).view(np.uint32).ravel()


def _rgb_image(rgb: np.ndarray) -> QImage:
    h, w = rgb.shape[:2]
    rgba = rgb.ndim == 3 and rgb.shape[2] == 4
    fmt = QImage.Format.Format_RGBA8888_Premultiplied if rgba else QImage.Format.Format_RGB888
    # The QImage reads the numpy buffer in place; the caller keeps the array alive beside it.
    return QImage(rgb.data, w, h, rgb.strides[0], fmt)


class MaskLayer(QGraphicsItem):
    """The mask in class colours (filled, or outlines only); edits recolour only their rectangle.

    Level k shows every 2**k-th mask pixel, so recolouring a rectangle costs its area at each
    level that exists, and a zoomed-out repaint reads a small image.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.mask = np.zeros((1, 1), np.uint8)
        self.lut = np.zeros(256, np.uint32)  # premultiplied RGBA8888 per class index
        self.hatch = np.zeros((HATCH, HATCH), np.uint32)  # the unlabelled pattern, one period
        self.outline = False
        self.edge = 1
        self._levels: dict[int, tuple[np.ndarray, QImage]] = {}

    def set_mask(self, mask: np.ndarray) -> None:
        """Show a mask (kept by reference: the canvas edits it in place, then calls refresh)."""
        self.prepareGeometryChange()
        self.mask = mask
        # Outline width grows with the image so that it stays visible when fitted to the view.
        self.edge = max(1, round(max(mask.shape) / 800))
        self._reset()

    def set_colors(self, rgba: np.ndarray) -> None:
        """Colours by class index: a 256 x 4 uint8 RGBA table (alpha 0 = not drawn).

        The unlabelled entry (255) is replaced by the hatch pattern (its line colour in outlines).
        """
        rgba = np.array(rgba, np.uint8)
        rgba[IGNORE] = HATCH_LINE
        self.lut = _premultiplied(rgba)
        line, veil = _premultiplied(np.array([HATCH_LINE, HATCH_VEIL], np.uint8))
        diagonal = (np.arange(HATCH)[:, None] + np.arange(HATCH)[None, :]) % HATCH < 2
        self.hatch = np.where(diagonal, line, veil).astype(np.uint32)
        self._reset()

    def set_outline(self, on: bool) -> None:
        """Draw class boundaries only, so the picture (or heat map) shows through."""
        if on != self.outline:
            self.outline = on
            self._reset()

    def _reset(self) -> None:
        self._levels.clear()
        self.update()

    def refresh(self, rect: Rect) -> None:
        """Recolour one rectangle after an edit and schedule a repaint of only that rectangle."""
        x, y, w, h = rect
        if self.outline:  # a boundary moves up to `edge` pixels beyond the edit
            e = self.edge
            x, y = max(0, x - e), max(0, y - e)
            w = min(self.mask.shape[1], rect[0] + w + e) - x
            h = min(self.mask.shape[0], rect[1] + h + e) - y
        for k, (pixels, _) in self._levels.items():
            s = 1 << k
            lx0, ly0 = -(-x // s), -(-y // s)
            lx1, ly1 = -(-(x + w) // s), -(-(y + h) // s)
            if lx1 > lx0 and ly1 > ly0:
                pixels[ly0:ly1, lx0:lx1] = self._colour(k, lx0, ly0, lx1, ly1)
        self.update(QRectF(x, y, w, h))

    def _colour(self, k: int, lx0: int, ly0: int, lx1: int, ly1: int) -> np.ndarray:
        """RGBA (as uint32) of level-k pixels [ly0:ly1, lx0:lx1]."""
        s = 1 << k
        if not self.outline:
            sampled = self.mask[ly0 * s : ly1 * s : s, lx0 * s : lx1 * s : s]
            colours = np.take(self.lut, sampled)
            unlabelled = sampled == IGNORE
            if unlabelled.any():  # the pattern in level pixels: stripes keep their screen width
                rows = np.arange(ly0, ly1)[:, None] % HATCH
                cols = np.arange(lx0, lx1)[None, :] % HATCH
                np.copyto(colours, self.hatch[rows, cols], where=unlabelled)
            return colours
        e = self.edge
        hgt, wid = self.mask.shape
        # Edges are found at full resolution around the rectangle, then sampled like the level.
        y0, x0 = max(0, ly0 * s - e), max(0, lx0 * s - e)
        y1, x1 = min(hgt, (ly1 - 1) * s + e + 1), min(wid, (lx1 - 1) * s + e + 1)
        window = self.mask[y0:y1, x0:x1]
        kernel = np.ones((2 * e + 1, 2 * e + 1), np.uint8)
        edge = cv2.dilate(window, kernel) != cv2.erode(window, kernel)
        oy, ox = ly0 * s - y0, lx0 * s - x0
        ny, nx = ly1 - ly0, lx1 - lx0
        sampled = window[oy : oy + ny * s : s, ox : ox + nx * s : s]
        colours = np.take(self.lut, sampled)
        colours[~edge[oy : oy + ny * s : s, ox : ox + nx * s : s]] = 0
        return colours

    def _level(self, k: int) -> QImage:
        if k not in self._levels:
            s = 1 << k
            h, w = -(-self.mask.shape[0] // s), -(-self.mask.shape[1] // s)
            pixels = np.ascontiguousarray(self._colour(k, 0, 0, w, h))
            image = QImage(pixels.data, w, h, 4 * w, QImage.Format.Format_RGBA8888_Premultiplied)
            self._levels[k] = (pixels, image)
        return self._levels[k][1]

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.mask.shape[1], self.mask.shape[0])

    def paint(self, painter: QPainter, option, widget=None) -> None:
        k = min(level_for(painter), max(0, int(math.log2(max(1, min(self.mask.shape) // 16)))))
        image = self._level(k)
        target = _exposed(self, option)
        s = 1 << k
        source = QRectF(target.x() / s, target.y() / s, target.width() / s, target.height() / s)
        painter.drawImage(target, image, source)
