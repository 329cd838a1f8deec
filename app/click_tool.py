"""Click to segment, box to segment and the colour wand on the canvas.

Click (S): left click inside the object, right click outside; box (Shift+S): drag a box around it,
then click to refine. The region shows over the mask until Enter writes it, in the current
class, as one edit of the image's history (one undo step, saved like a brush stroke); Esc drops
it; Backspace or Ctrl+Z takes back the last click. Clicks made while the image's first pass runs
(in a thread) wait, shown as dots, and count once it is ready. The wand (W) fills at once, as
image editors' magic wands do; Ctrl+wheel sets its tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtWidgets import QLabel

from app import settings
from app.click_preview import RegionView
from app.first_pass import FirstPass, PassKey, PassResult, pass_key
from mcc_engine.interactive import ClickSession, colour_wand
from mcc_engine.interactive.wand import DEFAULT_TOLERANCE
from mcc_engine.project.store import Project

TOOLS: Final = ("click", "box", "wand")
WAND_STEP: Final = 4  # tolerance per wheel notch (out of 255 per channel)
DRAG: Final = 5  # screen pixels a press must travel to draw a box rather than click
ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
# The tools' own keys and mouse habits, for the key sheet (F1); tool keys are the tool bar's.
CLICK_KEYS = (
    ("Return", "click and box tools: accept the region (one undo step)"),
    ("Esc", "click and box tools: drop the region"),
    ("Backspace", "click and box tools: take back the last click (Ctrl+Z too)"),
    ("Left / right click", "click and box tools: inside / outside the object"),
    ("Ctrl+Wheel", "colour wand: tolerance"),
)


@dataclass
class Plan:
    """What the user gave for one region; the session is rebuilt from it when the first pass
    (or the class) changes. Clicks are (x, y, inside) in image pixels."""

    box: tuple[float, float, float, float] | None = None
    clicks: list[tuple[float, float, bool]] = field(default_factory=list)


class ClickTool(QObject):
    """The three tools for one canvas: its mouse and keys while one of them is chosen."""

    def __init__(self, canvas, project: Project, *, class_name: Callable[[int], str]) -> None:
        super().__init__(canvas)
        self.canvas, self.project, self.class_name = canvas, project, class_name
        self.label = QLabel()  # the window shows it in its status bar
        self.label.setVisible(False)
        self.first_pass = FirstPass(self)
        self.first_pass.ready.connect(self._pass_ready)
        self.preview = RegionView(canvas.scene(), z=10)
        self.tool = ""
        self.tolerance = settings.value("wand_tolerance", DEFAULT_TOLERANCE)
        self.plan: Plan | None = None
        self.session: ClickSession | None = None
        self._image: tuple[int, np.ndarray, tuple[int, ...]] | None = None  # id, RGB, tags
        self._key: PassKey | None = None
        self._problem = ""  # why the model is not used (or the pass failed)
        self._drag: tuple[QPointF, QPointF] | None = None  # box: press (view, image) points
        canvas.viewport().installEventFilter(self)
        canvas.installEventFilter(self)

    # -- what the window tells it --------------------------------------------------------------
    def set_tool(self, name: str) -> None:
        """A tool was chosen (any of the window's; the others leave this idle)."""
        if name != self.tool:
            self.drop()
        self.tool = name if name in TOOLS else ""
        self._prepare()

    def show_image(self, image_id: int, rgb: np.ndarray, tags: tuple[int, ...]) -> None:
        """The canvas shows another image (or the same one afresh): a region not accepted is dropped."""
        self.drop()
        self._image = (image_id, rgb, tuple(tags))
        self._prepare()

    def set_class(self, index: int) -> None:
        """The current class changed: the region is remade for it, from the same clicks."""
        self._prepare()
        self._rebuild()

    def shutdown(self) -> None:
        """End the first pass's thread (the window is closing)."""
        self.first_pass.shutdown()

    # -- the region ------------------------------------------------------------------------------
    def ready(self) -> bool:
        """Whether the first pass for the shown image (and class) is done."""
        return self._evidence() is not None

    def region(self) -> np.ndarray | None:
        """The proposed region (bool, image-sized), or None when there is none yet."""
        return self.session.mask() if self.session is not None and self.plan is not None else None

    def add_click(self, x: float, y: float, *, inside: bool) -> None:
        """A click on image pixel (x, y): inside (positive) or outside (negative) the object."""
        if self.plan is None:
            self.plan = Plan()
        self.plan.clicks.append((x, y, inside))
        if self.session is not None:
            self.session.add(x, y, positive=inside)
        else:
            self._rebuild()
        self._show()

    def start_box(self, box: tuple[float, float, float, float]) -> None:
        """A new box (x0, y0, x1, y1): it replaces a region not accepted."""
        self.plan = Plan(box=box)
        self.session = None
        self._rebuild()

    def undo_click(self) -> bool:
        """Take back the last click (with none left, the box or empty region goes); False when
        there is no region, so that Ctrl+Z undoes the mask's last edit instead."""
        if self.plan is None:
            return False
        if not self.plan.clicks:
            self.drop()
            return True
        self.plan.clicks.pop()
        if self.session is not None:
            self.session.undo()
        self._show()
        return True

    def accept(self) -> None:
        """Write the region into the mask in the current class, as one edit."""
        region = self.region()
        if region is None:
            self._say("still preparing this image: press Enter again when it is ready")
            return
        k = self.canvas.current_class
        changed = self._write(region, k)
        self.drop()
        self._say(
            f"accepted {changed} pixels of {self.class_name(k)} (Ctrl+Z takes them back)"
            if changed
            else "nothing to change: the region already holds that class"
        )

    def drop(self) -> None:
        """Forget the region, writing nothing."""
        self.plan, self.session, self._drag = None, None, None
        self._show()

    def _prepare(self) -> None:
        """Start the first pass for the shown image when the click or box tool needs it."""
        if self.tool not in ("click", "box") or self._image is None:
            self._show()
            return
        image_id, rgb, tags = self._image
        labels = tuple(sorted({*tags, self.canvas.current_class})) if tags else None
        key = pass_key(image_id, self.project.latest_checkpoint(), labels)
        if key != self._key:
            self._key, self.session, self._problem = key, None, ""
        if self._evidence() is None:
            self.first_pass.request(key, rgb)
        self._show()

    def _evidence(self):
        if self._key is None:
            return None
        result = self.first_pass.result(self._key)
        return result.evidence if result is not None else None

    def _pass_ready(self, result: PassResult) -> None:
        if result.key == self._key:
            self._problem = result.problem
            self._rebuild()

    def _rebuild(self) -> None:
        """Remake the session from the plan (after the first pass, a class change, a box)."""
        evidence = self._evidence()
        if evidence is None or self.plan is None or self.tool not in ("click", "box"):
            self.session = None
            self._show()
            return
        plan = self.plan
        self.session = ClickSession(evidence, class_index=self.canvas.current_class, box=plan.box)
        for x, y, inside in plan.clicks:
            self.session.add(x, y, positive=inside)
        self._show()

    def _write(self, region: np.ndarray, value: int) -> int:
        """Set `region` to `value` in the shown mask as one edit of its history; pixels changed."""
        history = self.canvas.history
        rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
        if not len(rows):
            return 0
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        window = history.mask[y0:y1, x0:x1]
        take = region[y0:y1, x0:x1] & (window != value)
        if not take.any():
            return 0
        before = window.copy()
        window[take] = value
        history.commit((x0, y0, x1 - x0, y1 - y0), before)  # the canvas redraws what it reports
        return int(take.sum())

    def wand(self, x: int, y: int) -> None:
        """Fill the pixels of about the colour at (x, y), connected to it, with the current class."""
        if self._image is None:
            return
        k = self.canvas.current_class
        changed = self._write(colour_wand(self._image[1], (x, y), tolerance=self.tolerance), k)
        self._say(
            f"filled {changed} pixels with {self.class_name(k)}"
            if changed
            else "nothing to fill: that region already holds the class"
        )

    def set_tolerance(self, value: int) -> None:
        """The wand's tolerance (per RGB channel, 0-255), remembered."""
        self.tolerance = min(255, max(0, int(value)))
        settings.set_value("wand_tolerance", self.tolerance)
        self._say("")

    # -- display --------------------------------------------------------------------------------
    def _show(self) -> None:
        plan = self.plan
        if plan is None or not self.tool:
            self.preview.clear()
        else:
            colour = self._colour()
            self.preview.show(self.region(), colour=colour, clicks=plan.clicks, box=plan.box)
        self._say("")

    def _colour(self) -> tuple[int, int, int]:
        k = self.canvas.current_class
        return next((c.color for c in self.project.classes() if c.index == k), (255, 255, 255))

    def _say(self, note: str) -> None:
        """Show the tool's state (and what the last action did) in the status bar's label."""
        self.label.setVisible(bool(self.tool))
        self.label.setText(self._state_text() + (f"  ·  {note}" if note else ""))

    def _state_text(self) -> str:
        name = self.class_name(self.canvas.current_class)
        if self.tool == "wand":
            return (
                f"Colour wand: a click fills with {name}; tolerance {self.tolerance} (Ctrl+wheel)"
            )
        title = "Click to segment" if self.tool == "click" else "Box to segment"
        if self._image is None or not self.tool:
            return title
        if not self.ready() and self._problem:  # the pass failed: the tool cannot work here
            return f"{title}: {self._problem}"
        if not self.ready():
            count = len(self.plan.clicks) if self.plan else 0
            waiting = f" ({count} click{' waits' if count == 1 else 's wait'})" if count else ""
            return f"{title}: preparing this image…{waiting}"
        source = "the model" if self._key.checkpoint and not self._problem else "the image alone"
        if self._problem:
            source += f" ({self._problem})"
        if self.plan is None:
            how = (
                "left click inside the object, right click outside"
                if self.tool == "click"
                else "drag a box around the object, then click to refine"
            )
            return f"{title} {name} from {source}: {how}"
        parts = ["a box"] if self.plan.box else []
        if self.plan.clicks or not parts:
            count = len(self.plan.clicks)
            parts.append(f"{count} click{'s' * (count != 1)}")
        return (
            f"{title} {name}: {' and '.join(parts)} — Enter accepts, Esc drops, "
            "Backspace takes back a click"
        )

    # -- mouse and keys ---------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self.tool or self._image is None:
            return False
        kind = event.type()
        if watched is self.canvas:
            return kind == QEvent.Type.KeyPress and self._key_pressed(event)
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick):
            return self._pressed(event)
        if kind == QEvent.Type.MouseMove and self._drag is not None:
            self.preview.show_box((*self._drag[1].toTuple(), *self._image_point(event).toTuple()))
        elif kind == QEvent.Type.MouseButtonRelease and self._drag is not None:
            return self._released(event)
        elif kind == QEvent.Type.Wheel and self.tool == "wand" and self._ctrl(event):
            notches = event.angleDelta().y() / 120
            self.set_tolerance(self.tolerance + round(notches * WAND_STEP))
            return True
        return False

    @staticmethod
    def _ctrl(event) -> bool:
        return bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)

    def _image_point(self, event) -> QPointF:
        return self.canvas.scene_point(event.position())

    def _pressed(self, event) -> bool:
        button = event.button()
        inside = button == Qt.MouseButton.LeftButton
        if button not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return False
        if self.canvas.panning_tool():
            return False
        self.canvas.setFocus()
        point = self._image_point(event)
        if self.tool == "box" and inside:  # a box may start beside the image: it is clipped
            self._drag = (event.position(), point)
        elif self._on_image(point):
            if self.tool != "wand":
                self.add_click(int(point.x()), int(point.y()), inside=inside)
            elif inside:
                self.wand(int(point.x()), int(point.y()))
        return True

    def _on_image(self, point: QPointF) -> bool:
        height, width = self._image[1].shape[:2]
        return 0 <= point.x() < width and 0 <= point.y() < height

    def _released(self, event) -> bool:
        (start_view, start), self._drag = self._drag, None
        if event.button() != Qt.MouseButton.LeftButton:
            return True
        travel = event.position() - start_view
        if max(abs(travel.x()), abs(travel.y())) < DRAG:  # a click: refines the box
            if self._on_image(start):
                self.add_click(int(start.x()), int(start.y()), inside=True)
            return True
        end = self._image_point(event)
        height, width = self._image[1].shape[:2]
        x0, x1 = sorted(max(0.0, min(width - 1.0, v)) for v in (start.x(), end.x()))
        y0, y1 = sorted(max(0.0, min(height - 1.0, v)) for v in (start.y(), end.y()))
        if x1 > x0 and y1 > y0:
            self.start_box((x0, y0, x1, y1))
        else:  # wholly beside the image
            self.preview.show_box(self.plan.box if self.plan else None)
        return True

    def _key_pressed(self, event) -> bool:
        if self.plan is None or self.tool not in ("click", "box"):
            return False
        if event.key() in ENTER:
            self.accept()
        elif event.key() == Qt.Key.Key_Escape:
            self.drop()
            self._say("dropped the region")
        elif event.key() == Qt.Key.Key_Backspace:
            self.undo_click()
        else:
            return False
        return True
