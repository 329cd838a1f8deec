"""The main window's tool bar: tools, brush size, opacity, outline, heat map, undo / redo, fit,
mark reviewed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QSlider, QSpinBox, QToolBar

from app.menus import action

if TYPE_CHECKING:
    from app.main_window import MainWindow

# name, icon, what it does, key
TOOLS = (
    ("brush", "mdi6.brush", "Brush", "B"),
    ("eraser", "mdi6.eraser", "Eraser: background", "E"),
    ("polygon", "mdi6.vector-polygon", "Polygon fill: click corners, Enter or double-click", "P"),
    ("fill", "mdi6.format-color-fill", "Fill region", "G"),
    (
        "replace",
        "mdi6.swap-horizontal-bold",
        "Replace class: click a class to turn it all into the current one",
        "X",
    ),
    ("ignore", "mdi6.texture-box", "Mark unlabelled", "I"),
    (
        "click",
        "mdi6.gesture-tap",
        "Click to segment: left inside, right outside, Enter accepts",
        "S",
    ),
    (
        "box",
        "mdi6.gesture-tap-box",
        "Box to segment: drag a box, click to refine, Enter",
        "Shift+S",
    ),
    ("wand", "mdi6.auto-fix", "Colour wand: fill similar colour (Ctrl+wheel: tolerance)", "W"),
    ("pan", "mdi6.hand-back-right", "Pan (or hold Space)", "H"),
)
HEAT_KINDS = (("", "no heat map"), ("confidence", "confidence"), ("cam", "CAM"))
HEAT_HINTS = {
    "confidence": "Confidence of the last proposal: hot where the model is unsure, clear where it "
    "is sure.",
    "cam": "CAM of the image's tags in the last proposal: hot where a tagged class activates.",
}


def build_toolbar(window: MainWindow) -> None:
    """Tools, brush size, opacity, outline, heat map, undo / redo, fit, mark reviewed."""
    bar = QToolBar("Tools")
    bar.setObjectName("tools")
    bar.setMovable(False)
    window.addToolBar(bar)
    window.tool_actions = {}
    for name, icon, text, key in TOOLS:
        tool = action(
            window,
            text,
            lambda _=False, n=name: window.set_tool(n),
            keys=(key,),
            icon=icon,
            checkable=True,
        )
        bar.addAction(tool)
        window.tool_actions[name] = tool
    bar.addSeparator()
    bar.addWidget(QLabel(" Size "))
    window.size_spin = QSpinBox(minimum=1, maximum=500, value=12, suffix=" px")
    window.size_spin.setToolTip("Brush size ([ and ])")
    window.size_spin.valueChanged.connect(lambda v: setattr(window.canvas, "size", v))
    bar.addWidget(window.size_spin)
    bar.addWidget(QLabel("  Opacity "))
    window.opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=55)
    window.opacity.setFixedWidth(100)
    window.opacity.valueChanged.connect(lambda v: window.canvas.set_opacity(v / 100))
    window.canvas.set_opacity(0.55)
    bar.addWidget(window.opacity)
    window.outline_action = action(
        window,
        "Outline mode: class boundaries only",
        keys=("O",),
        icon="mdi6.vector-square",
        checkable=True,
    )
    window.outline_action.toggled.connect(window.set_outline)
    bar.addAction(window.outline_action)
    window.heat_combo = QComboBox()
    window.heat_combo.addItems([label for _, label in HEAT_KINDS])
    window.heat_combo.setToolTip("Heat map of the last proposal: confidence or CAM (C cycles)")
    window.heat_combo.currentIndexChanged.connect(window.show_heat_map)
    bar.addWidget(window.heat_combo)
    bar.addSeparator()
    for item in (window.undo_action, window.redo_action, window.fit_action, window.review_action):
        bar.addAction(item)
    bar.addSeparator()
    bar.addAction(window.tagging.action)
