"""The canvas: the image, the mask overlay in class colours, painting tools, zoom and pan."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView

from app import tools
from app.history import EditHistory, Patch

IGNORE = 255


class OverlayItem(QGraphicsItem):
    """The mask drawn as colours over the image; only dirty rectangles are recoloured."""

    def __init__(self) -> None:
        super().__init__()
        self.rgba = np.zeros((1, 1, 4), np.uint8)
        self.image = QImage()
        self.lut = np.zeros((256, 4), np.uint8)
        self.alpha = 140

    def set_mask(self, mask: np.ndarray, lut: np.ndarray) -> None:
        """Recolour everything (a new image or palette)."""
        self.lut = lut
        self.rgba = np.ascontiguousarray(lut[mask])
        h, w = mask.shape
        # The QImage reads the numpy buffer in place; self.rgba keeps it alive.
        self.image = QImage(self.rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
        self.prepareGeometryChange()
        self.update()

    def refresh(self, mask: np.ndarray, rect: tools.Rect) -> None:
        """Recolour one rectangle after an edit and repaint only it."""
        x, y, w, h = rect
        self.rgba[y : y + h, x : x + w] = self.lut[mask[y : y + h, x : x + w]]
        self.update(QRectF(x, y, w, h))

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.rgba.shape[1], self.rgba.shape[0])

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setOpacity(self.alpha / 255.0)
        exposed = option.exposedRect.toAlignedRect().intersected(
            self.boundingRect().toAlignedRect()
        )
        painter.drawImage(exposed, self.image, exposed)


class CanvasView(QGraphicsView):
    """Shows one image with its mask; left-drag edits with the current tool."""

    mask_changed = Signal(object)
    cursor_info = Signal(int, int, int)
    zoom_changed = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setMouseTracking(True)
        self.setBackgroundBrush(QBrush(QColor(38, 40, 44)))
        self.pixmap_item = QGraphicsPixmapItem()
        self.overlay = OverlayItem()
        self.scene().addItem(self.pixmap_item)
        self.scene().addItem(self.overlay)
        self._mask = np.zeros((1, 1), np.uint8)
        self.history = EditHistory()
        self.tool = "brush"
        self.current_class = 1
        self.size = 12
        self._last: QPointF | None = None
        self._before: np.ndarray | None = None
        self._dirty: list[int] | None = None
        self._polygon: list[tuple[float, float]] = []
        self._panning = False
        self.set_palette([(0, 0, 0)])

    # -- content ----------------------------------------------------------------------------
    def set_image(
        self, rgb: np.ndarray, mask: np.ndarray | None, *, history: EditHistory | None = None
    ) -> None:
        """Show an image (H x W x 3 uint8) with its mask (None: all unlabelled)."""
        h, w = rgb.shape[:2]
        self._rgb = np.ascontiguousarray(rgb)
        qimage = QImage(self._rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self.pixmap_item.setPixmap(QPixmap.fromImage(qimage))
        self._mask = np.full((h, w), IGNORE, np.uint8) if mask is None else mask.copy()
        self.history = history or EditHistory()
        self.overlay.set_mask(self._mask, self.lut)
        self.scene().setSceneRect(QRectF(0, 0, w, h))
        self.fit()

    def set_palette(self, colors: list[tuple[int, int, int]]) -> None:
        """Colours by class index; background and unlabelled are transparent."""
        lut = np.zeros((256, 4), np.uint8)
        for k, color in enumerate(colors):
            lut[k, :3] = color
            lut[k, 3] = 0 if k == 0 else 255
        lut[IGNORE] = (0, 0, 0, 0)
        self.lut = lut
        self.overlay.set_mask(self._mask, lut)

    def set_opacity(self, alpha: float) -> None:
        """Overlay opacity in [0, 1]."""
        self.overlay.alpha = int(max(0.0, min(1.0, alpha)) * 255)
        self.overlay.update()

    def mask(self) -> np.ndarray:
        """The current mask (the canvas's own array; copy before keeping it)."""
        return self._mask

    # -- view -------------------------------------------------------------------------------
    def fit(self) -> None:
        """Fit the whole image into the view."""
        self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_changed.emit(self.transform().m11())

    def wheelEvent(self, event) -> None:
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.scale(factor, factor)
        self.zoom_changed.emit(self.transform().m11())

    # -- editing ----------------------------------------------------------------------------
    def _value(self) -> int:
        return {"eraser": 0, "ignore": IGNORE}.get(self.tool, self.current_class)

    def _commit(self, rect: tools.Rect | None, before: np.ndarray) -> None:
        if rect is None:
            return
        x, y, w, h = rect
        self.history.push(
            Patch(
                rect, before[y : y + h, x : x + w].copy(), self._mask[y : y + h, x : x + w].copy()
            )
        )
        self.mask_changed.emit(self._mask)

    def mousePressEvent(self, event) -> None:
        pos = self.mapToScene(event.position().toPoint())
        if event.button() == Qt.MouseButton.MiddleButton or (
            self.tool == "pan" and event.button() == Qt.MouseButton.LeftButton
        ):
            self._panning = True
            self._pan_from = event.position()
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if self.tool in ("brush", "eraser", "ignore"):
            self._before = self._mask.copy()
            self._last = pos
            self._dirty = None
            self._paint_to(pos)
        elif self.tool == "fill":
            before = self._mask.copy()
            self._apply(
                tools.flood_fill(
                    self._mask, (int(pos.x()), int(pos.y())), value=self.current_class
                ),
                before,
            )
        elif self.tool == "polygon":
            self._polygon.append((pos.x(), pos.y()))
            self.viewport().update()

    def _paint_to(self, pos: QPointF) -> None:
        rect = tools.brush(self._mask, (self._last.x(), self._last.y()), (pos.x(), pos.y()),
                           size=self.size, value=self._value())  # fmt: skip
        self._last = pos
        if rect is None:
            return
        self.overlay.refresh(self._mask, rect)
        x, y, w, h = rect
        d = self._dirty or [x, y, x + w, y + h]
        self._dirty = [min(d[0], x), min(d[1], y), max(d[2], x + w), max(d[3], y + h)]

    def _apply(self, rect: tools.Rect | None, before: np.ndarray) -> None:
        if rect is not None:
            self.overlay.refresh(self._mask, rect)
        self._commit(rect, before)

    def mouseMoveEvent(self, event) -> None:
        pos = self.mapToScene(event.position().toPoint())
        if self._panning:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            return
        x, y = int(pos.x()), int(pos.y())
        inside = 0 <= x < self._mask.shape[1] and 0 <= y < self._mask.shape[0]
        self.cursor_info.emit(x, y, int(self._mask[y, x]) if inside else -1)
        if self._last is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self._paint_to(pos)
        self.viewport().update()

    def mouseReleaseEvent(self, event) -> None:
        self._panning = False
        if self._last is not None and self._before is not None and self._dirty is not None:
            x0, y0, x1, y1 = self._dirty
            self._commit((x0, y0, x1 - x0, y1 - y0), self._before)
        self._last = self._before = self._dirty = None

    def mouseDoubleClickEvent(self, event) -> None:
        if self.tool == "polygon":
            self.close_polygon()

    def keyPressEvent(self, event) -> None:
        if self.tool == "polygon" and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.close_polygon()
        elif event.key() == Qt.Key.Key_Escape:
            self._polygon.clear()
            self.viewport().update()
        else:
            super().keyPressEvent(event)

    def close_polygon(self) -> None:
        """Fill the polygon drawn so far with the current class."""
        before = self._mask.copy()
        rect = tools.fill_polygon(self._mask, self._polygon, value=self.current_class)
        self._polygon.clear()
        self._apply(rect, before)
        self.viewport().update()

    def replace_class(self, old: int, new: int) -> None:
        """Turn one class into another across the image."""
        before = self._mask.copy()
        self._apply(tools.replace_class(self._mask, old, new), before)

    def undo(self) -> bool:
        """Undo the last edit of this image (in memory)."""
        rect = self.history.undo(self._mask)
        if rect is not None:
            self.overlay.refresh(self._mask, rect)
            self.mask_changed.emit(self._mask)
        return rect is not None

    def redo(self) -> bool:
        """Redo the last undone edit."""
        rect = self.history.redo(self._mask)
        if rect is not None:
            self.overlay.refresh(self._mask, rect)
            self.mask_changed.emit(self._mask)
        return rect is not None

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self._polygon:
            painter.setPen(QPen(QColor(255, 255, 255), 0))
            points = [QPointF(x, y) for x, y in self._polygon]
            painter.drawPolyline(points)
        if self.tool in ("brush", "eraser", "ignore") and self.underMouse():
            pos = self.mapToScene(self.mapFromGlobal(self.cursor().pos()))
            painter.setPen(QPen(QColor(255, 255, 255, 200), 0))
            painter.drawEllipse(pos, self.size / 2, self.size / 2)
