"""The canvas: the image, the mask overlay, an optional heat map, painting tools, zoom and pan."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen, QTransform
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QGraphicsEllipseItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsView,
    QLineEdit,
)

from app import tools
from app.layers import MaskLayer, PictureLayer
from mcc_engine.project.history import MaskHistory

IGNORE = 255
BRUSHES = ("brush", "eraser", "ignore")
ZOOM_STEP = 1.25  # per wheel notch
MAX_ZOOM = 64.0  # screen pixels per image pixel
# The canvas's own keys (the window's shortcuts are QActions and QShortcuts): for the key sheet.
CANVAS_KEYS = (
    ("Space", "hold and drag: pan"),
    ("Return", "close the polygon"),
    ("Esc", "drop the polygon; in a text or number field: back to the canvas"),
)


def heat_colours(values: np.ndarray, *, kind: str) -> np.ndarray:
    """A uint8 map (255 = 1.0) as premultiplied RGBA: turbo colours, see-through where cool.

    CAM: hot where a tagged class activates. Confidence: hot where the model is unsure (its
    confidence under 0.5 is fully hot), clear where it is sure, so the eye goes to what to check.
    """
    heat = values.astype(np.float32) / 255.0
    if kind == "confidence":
        heat = np.clip((1.0 - heat) * 2.0, 0.0, 1.0)
    level = np.rint(heat * 255).astype(np.uint8)
    rgb = cv2.applyColorMap(level, cv2.COLORMAP_TURBO)[..., ::-1].astype(np.float32)
    alpha = np.clip((heat - 0.05) / 0.5, 0.0, 1.0)  # clear below 0.05, solid from 0.55
    rgba = np.dstack([rgb * alpha[..., None], alpha * 255.0])
    return np.ascontiguousarray(np.rint(rgba).astype(np.uint8))


class CanvasView(QGraphicsView):
    """Shows one image with its mask; left-drag edits with the current tool.

    The mask and its undo history belong to the image's `MaskHistory`: the canvas paints into
    the history's mask, commits each finished edit to it, and redraws what the history reports.
    """

    cursor_info = Signal(int, int, int)
    zoom_changed = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        # Zoom anchors itself (zoom_at): Qt's AnchorUnderMouse reads the global cursor, not the
        # wheel event, and cannot anchor where the image is narrower than the view.
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        # The scene reaches a view's size beyond the image on every side (see _pad), so scroll
        # bars would always show; panning (Space, middle button, H) moves the view instead.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setMouseTracking(True)
        self.setBackgroundBrush(QBrush(QColor(38, 40, 44)))
        self.picture, self.heat, self.overlay = PictureLayer(), PictureLayer(), MaskLayer()
        self.heat.setVisible(False)
        self.heat.setOpacity(0.85)
        self._cursor = QGraphicsEllipseItem()
        self._cursor.setPen(QPen(QColor(255, 255, 255, 220), 0))
        self._cursor.setVisible(False)
        self._polygon_item = QGraphicsPathItem()
        self._polygon_item.setPen(QPen(QColor(255, 255, 255), 0))
        for z, item in enumerate(
            (self.picture, self.heat, self.overlay, self._polygon_item, self._cursor)
        ):
            item.setZValue(z)
            self.scene().addItem(item)
        self._mask = np.zeros((1, 1), np.uint8)
        self.history = MaskHistory.detached(self._mask)
        self._committing = False  # the canvas's own commit: painting has redrawn it already
        self.tool = "brush"
        self.current_class = 1
        self.size = 12
        self.outline = False
        self._last: QPointF | None = None
        self._before: np.ndarray | None = None
        self._dirty: list[int] | None = None
        self._polygon: list[tuple[float, float]] = []
        self._pan_from: QPointF | None = None
        self._space = False
        self._fitted = True  # the view refits on resize until the user zooms
        self._image_rect = QRectF(0, 0, 1, 1)
        self._colors: list[tuple[int, int, int]] = [(0, 0, 0)]
        self.hidden: set[int] = set()
        self.set_palette([(0, 0, 0)])

    # -- content ----------------------------------------------------------------------------
    def set_image(self, rgb: np.ndarray, history: MaskHistory) -> None:
        """Show an image (H x W x 3 uint8) with the mask of its history (same size)."""
        h, w = rgb.shape[:2]
        if history.mask.shape != (h, w):
            raise ValueError(f"mask {history.mask.shape} and image {(h, w)} differ in size")
        self._finish_stroke()  # a stroke under way (a key changed the image) stays with its image
        self.history.unsubscribe(self._history_changed)
        self.picture.set_rgb(rgb)
        self.history = history
        self._mask = history.mask
        history.subscribe(self._history_changed)
        self.overlay.set_mask(self._mask)
        self.set_heat_map(None)
        self._polygon.clear()
        self._update_polygon()
        self._image_rect = QRectF(0, 0, w, h)
        self.fit()

    def set_palette(self, colors: list[tuple[int, int, int]]) -> None:
        """Colours by class index; background is clear, unlabelled hatched (see MaskLayer)."""
        self._colors = list(colors)
        lut = np.zeros((256, 4), np.uint8)
        for k, color in enumerate(colors[1:], start=1):
            if k not in self.hidden:
                lut[k] = (*color, 255)
        self.overlay.set_colors(lut)

    def set_hidden(self, hidden: set[int]) -> None:
        """Classes not drawn in the overlay (a view setting; the mask keeps them)."""
        self.hidden = set(hidden)
        self.set_palette(self._colors)

    def set_opacity(self, alpha: float) -> None:
        """Overlay opacity in [0, 1]."""
        self.overlay.setOpacity(max(0.0, min(1.0, alpha)))

    def set_outline(self, on: bool) -> None:
        """Outline mode: class boundaries only (always so while a heat map shows)."""
        self.outline = on
        self.overlay.set_outline(on or self.heat.isVisible())

    def set_heat_map(self, values: np.ndarray | None, kind: str = "cam") -> None:
        """Show a uint8 heat map (`confidence` or `cam`, image-sized) under the mask, or hide it."""
        if values is not None and values.shape == self._mask.shape:
            self.heat.set_rgb(heat_colours(values, kind=kind))
            self.heat.setVisible(True)
        else:
            self.heat.setVisible(False)
        self.overlay.set_outline(self.outline or self.heat.isVisible())

    def mask(self) -> np.ndarray:
        """The mask shown (the history's array; copy before keeping it)."""
        return self._mask

    def stroking(self) -> bool:
        """Whether a brush stroke is under way (the mouse button is still down)."""
        return self._last is not None

    def _history_changed(self, rect: tools.Rect | None) -> None:
        if rect is not None and rect[2] > 0 and rect[3] > 0 and not self._committing:
            self.overlay.refresh(rect)

    # -- view -------------------------------------------------------------------------------
    def fit(self) -> None:
        """Fit the whole image into the view."""
        view, image = self.viewport().rect(), self._image_rect
        if view.width() < 8 or view.height() < 8:
            return
        margin = 2  # as QGraphicsView.fitInView leaves
        scale = min(
            (view.width() - 2 * margin) / image.width(),
            (view.height() - 2 * margin) / image.height(),
        )
        self.setTransform(QTransform.fromScale(scale, scale))
        self._pad()
        self.centerOn(image.center())
        self._fitted = True
        self.zoom_changed.emit(scale)

    def _pad(self) -> None:
        """Let the scene reach one view beyond the image on each side, at the current zoom.

        Then any image pixel can sit under any view point, so zooming can keep the pixel under
        the cursor in place even where the image is smaller than the view.
        """
        scale = self.transform().m11()
        dx, dy = self.viewport().width() / scale, self.viewport().height() / scale
        self.scene().setSceneRect(self._image_rect.adjusted(-dx, -dy, dx, dy))

    def scene_point(self, view_point: QPointF) -> QPointF:
        """The scene (image) point under a viewport point, with sub-pixel precision."""
        return self.viewportTransform().inverted()[0].map(QPointF(view_point))

    def zoom_at(self, view_point: QPointF, factor: float) -> None:
        """Zoom by `factor`, keeping the image point under `view_point` where it is."""
        view, image = self.viewport().rect(), self._image_rect
        fit = min(view.width() / image.width(), view.height() / image.height())
        old = self.transform().m11()
        scale = min(MAX_ZOOM, max(fit / 4, old * factor))
        if scale == old:
            return
        anchor = self.scene_point(view_point)
        self._fitted = False
        self.setTransform(QTransform.fromScale(scale, scale))
        self._pad()
        # A view point p shows scene point (p + scroll) / scale: solve for the scroll.
        self.horizontalScrollBar().setValue(round(anchor.x() * scale - view_point.x()))
        self.verticalScrollBar().setValue(round(anchor.y() * scale - view_point.y()))
        self.zoom_changed.emit(scale)

    def resizeEvent(self, event) -> None:
        center = self.scene_point(QPointF(self.viewport().rect().center()))
        super().resizeEvent(event)
        if self._fitted:
            self.fit()
        else:
            self._pad()
            self.centerOn(center)

    def wheelEvent(self, event) -> None:
        notches = event.angleDelta().y() / 120
        if notches:
            self.zoom_at(event.position(), ZOOM_STEP**notches)

    def panning_tool(self) -> bool:
        """Whether a left drag pans now (the pan tool, or Space held)."""
        return self.tool == "pan" or self._space

    def enterEvent(self, event) -> None:
        # Take the keyboard (Space-drag, Enter for polygons) unless the user is typing elsewhere.
        if not isinstance(QApplication.focusWidget(), QLineEdit | QAbstractSpinBox):
            self.setFocus()
        super().enterEvent(event)

    def leaveEvent(self, event) -> None:
        self._cursor.setVisible(False)
        super().leaveEvent(event)

    # -- editing ----------------------------------------------------------------------------
    def _value(self) -> int:
        return {"eraser": 0, "ignore": IGNORE}.get(self.tool, self.current_class)

    def _commit(self, rect: tools.Rect | None, before: np.ndarray, *, drawn: bool) -> None:
        """Hand a finished edit to the history (`drawn`: the canvas has redrawn it already)."""
        if rect is None:
            return
        x, y, w, h = rect
        self._committing = drawn
        try:
            self.history.commit(rect, before[y : y + h, x : x + w])
        finally:
            self._committing = False

    def mousePressEvent(self, event) -> None:
        self.setFocus()
        pos = self.mapToScene(event.position().toPoint())
        if event.button() == Qt.MouseButton.MiddleButton or (
            self.panning_tool() and event.button() == Qt.MouseButton.LeftButton
        ):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        x, y = int(pos.x()), int(pos.y())
        if self.tool in BRUSHES:
            self._before = self._mask.copy()
            self._last = pos
            self._dirty = None
            self._paint_to(pos)
        elif self.tool == "fill":
            before = self._mask.copy()
            self._apply(tools.flood_fill(self._mask, (x, y), value=self.current_class), before)
        elif self.tool == "replace":
            if 0 <= x < self._mask.shape[1] and 0 <= y < self._mask.shape[0]:
                self.replace_class(int(self._mask[y, x]), self.current_class)
        elif self.tool == "polygon":
            self._polygon.append((pos.x(), pos.y()))
            self._update_polygon(pos)

    def _paint_to(self, pos: QPointF) -> None:
        rect = tools.brush(
            self._mask,
            (self._last.x(), self._last.y()),
            (pos.x(), pos.y()),
            size=self.size,
            value=self._value(),
        )
        self._last = pos
        if rect is None:
            return
        self.overlay.refresh(rect)
        x, y, w, h = rect
        d = self._dirty or [x, y, x + w, y + h]
        self._dirty = [min(d[0], x), min(d[1], y), max(d[2], x + w), max(d[3], y + h)]

    def _apply(self, rect: tools.Rect | None, before: np.ndarray) -> None:
        self._commit(rect, before, drawn=False)

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            return
        pos = self.mapToScene(event.position().toPoint())
        x, y = int(pos.x()), int(pos.y())
        inside = 0 <= x < self._mask.shape[1] and 0 <= y < self._mask.shape[0]
        self.cursor_info.emit(x, y, int(self._mask[y, x]) if inside else -1)
        if self._last is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self._paint_to(pos)
        # The brush outline is a scene item: moving it repaints only where it was and is.
        brushing = self.tool in BRUSHES and not self._space
        self._cursor.setVisible(brushing)
        if brushing:
            r = self.size / 2
            self._cursor.setRect(QRectF(pos.x() - r, pos.y() - r, 2 * r, 2 * r))
        if self._polygon:
            self._update_polygon(pos)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self._set_pan_cursor()
            return
        self._finish_stroke()

    def _finish_stroke(self) -> None:
        if self._last is not None and self._before is not None and self._dirty is not None:
            x0, y0, x1, y1 = self._dirty
            self._commit((x0, y0, x1 - x0, y1 - y0), self._before, drawn=True)
        self._last = self._before = self._dirty = None

    def mouseDoubleClickEvent(self, event) -> None:
        if self.tool == "polygon":
            self.close_polygon()

    def _set_pan_cursor(self) -> None:
        if self.panning_tool():
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                self._cursor.setVisible(False)
                self._set_pan_cursor()
        elif self.tool == "polygon" and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.close_polygon()
        elif event.key() == Qt.Key.Key_Escape:
            self._polygon.clear()
            self._update_polygon()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._set_pan_cursor()
        else:
            super().keyReleaseEvent(event)

    def _update_polygon(self, cursor: QPointF | None = None) -> None:
        path = QPainterPath()
        if self._polygon:
            path.moveTo(*self._polygon[0])
            for x, y in self._polygon[1:]:
                path.lineTo(x, y)
            if cursor is not None:
                path.lineTo(cursor)
        self._polygon_item.setPath(path)

    def close_polygon(self) -> None:
        """Fill the polygon drawn so far with the current class."""
        before = self._mask.copy()
        rect = tools.fill_polygon(self._mask, self._polygon, value=self.current_class)
        self._polygon.clear()
        self._update_polygon()
        self._apply(rect, before)

    def replace_class(self, old: int, new: int) -> None:
        """Turn one class into another across the image."""
        if old != new:
            before = self._mask.copy()
            self._apply(tools.replace_class(self._mask, old, new), before)

    def set_tool(self, name: str) -> None:
        """Pick a tool (the window's toolbar calls this)."""
        self.tool = name
        if name != "polygon":
            self._polygon.clear()
            self._update_polygon()
        self._set_pan_cursor()
