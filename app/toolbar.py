"""The main window's tool bar, menus and keyboard shortcuts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import qtawesome as qta
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import QComboBox, QLabel, QSlider, QSpinBox, QToolBar

from app import settings
from app.theme import theme

if TYPE_CHECKING:
    from app.main_window import MainWindow

TOOLS = (("brush", "mdi6.brush", "Brush (B)", "B"), ("eraser", "mdi6.eraser", "Eraser: background (E)", "E"),
         ("polygon", "mdi6.vector-polygon", "Polygon fill: click corners, Enter or double-click (P)", "P"),
         ("fill", "mdi6.format-color-fill", "Fill region (G)", "G"),
         ("replace", "mdi6.swap-horizontal-bold", "Replace class: click a class to turn it all into the current one (X)", "X"),
         ("ignore", "mdi6.texture-box", "Mark unlabelled (I)", "I"),
         ("pan", "mdi6.hand-back-right", "Pan (H, or hold Space)", "H"))  # fmt: skip
HEAT_KINDS = (("", "no heat map"), ("confidence", "confidence"), ("cam", "CAM"))
HEAT_HINTS = {"confidence": "Confidence of the last proposal: hot where the model is unsure, clear where it is sure.",
              "cam": "CAM of the image's tags in the last proposal: hot where a tagged class activates."}  # fmt: skip


def _icon_action(
    window: MainWindow, icon: str, text: str, slot=None, *, checkable: bool = False
) -> QAction:
    action = QAction(qta.icon(icon), text, window, checkable=checkable)
    window.icon_actions.append((action, icon))
    if slot is not None:
        action.triggered.connect(slot)
    return action


def refresh_icons(window: MainWindow) -> None:
    """Redraw the icons in the theme's colours (qtawesome colours are fixed when made)."""
    for action, icon in window.icon_actions:
        action.setIcon(qta.icon(icon))


def build_toolbar(window: MainWindow) -> None:
    """Tools, brush size, opacity, outline, heat map, undo / redo, fit, mark reviewed."""
    window.icon_actions = []
    bar = QToolBar("Tools")
    bar.setObjectName("tools")
    bar.setMovable(False)
    window.addToolBar(bar)
    window.tool_actions = {}
    for name, icon, tip, key in TOOLS:
        action = _icon_action(window, icon, tip, lambda _=False, n=name: window.set_tool(n), checkable=True)  # fmt: skip
        action.setShortcut(QKeySequence(key))
        bar.addAction(action)
        window.tool_actions[name] = action
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
    window.outline_action = _icon_action(window, "mdi6.vector-square", "Outline mode: class boundaries only (O)",
                                         checkable=True)  # fmt: skip
    window.outline_action.toggled.connect(window.set_outline)
    window.outline_action.setShortcut(QKeySequence("O"))
    bar.addAction(window.outline_action)
    window.heat_combo = QComboBox()
    window.heat_combo.addItems([label for _, label in HEAT_KINDS])
    window.heat_combo.setToolTip("Heat map of the last proposal: confidence or CAM (C cycles)")
    window.heat_combo.currentIndexChanged.connect(window.show_heat_map)
    bar.addWidget(window.heat_combo)
    bar.addSeparator()
    for icon, tip, slot in (("mdi6.undo", "Undo (Ctrl+Z)", window.undo), ("mdi6.redo", "Redo (Ctrl+Shift+Z)", window.redo),
                            ("mdi6.fit-to-screen-outline", "Fit (F)", window.canvas.fit),
                            ("mdi6.check-decagram", "Mark reviewed and go to the next image (R)", window.mark_reviewed)):  # fmt: skip
        bar.addAction(_icon_action(window, icon, tip, slot))


def build_menus(window: MainWindow) -> None:
    """File (open, recent, export, imports), View (outline, heat map, theme)."""
    menu = window.menuBar().addMenu("&File")
    menu.addAction(_icon_action(window, "mdi6.folder-image", "Open data folder…", lambda: window.ask_open("folder")))  # fmt: skip
    menu.addAction(_icon_action(window, "mdi6.database-outline", "Open project…", lambda: window.ask_open("project")))  # fmt: skip
    recent = menu.addMenu("Open recent")
    for path in settings.recent_projects():
        recent.addAction(path, lambda p=path: window.open_requested.emit(p))
    recent.setEnabled(bool(recent.actions()))
    menu.addAction("Open the demo", lambda: window.open_requested.emit("demo"))
    menu.addSeparator()
    menu.addAction(_icon_action(window, "mdi6.export", "Export dataset…", window.export_dialog))
    for text, kind in (("Import VOC masks…", "voc"), ("Import COCO json…", "coco"), ("Import labelme folder…", "labelme")):  # fmt: skip
        menu.addAction(text, lambda k=kind: window.import_masks(k))
    menu.addSeparator()
    menu.addAction("Quit", QKeySequence.StandardKey.Quit, window.close)
    view = window.menuBar().addMenu("&View")
    view.addAction(window.outline_action)
    view.addAction("Cycle heat map (C)", window.cycle_heat_map)
    view.addSeparator()
    themes = view.addMenu("Theme")
    group = QActionGroup(window)
    for mode in settings.THEMES:
        action = themes.addAction(mode.capitalize() if mode != "system" else "Follow the system")
        action.setCheckable(True)
        action.setChecked(mode == settings.theme())
        action.triggered.connect(lambda _=False, m=mode: _set_theme(window, m))
        group.addAction(action)


def _set_theme(window: MainWindow, mode: str) -> None:
    settings.set_value("theme", mode)
    theme().apply(mode)
    refresh_icons(window)


def build_shortcuts(window: MainWindow) -> None:
    """A / D, F, R, C, undo / redo, [ ], 1-9: window-wide, whatever has the focus."""
    size = window.size_spin
    keys = {"A": lambda: window.step_image(-1), "D": lambda: window.step_image(1), "F": window.canvas.fit,
            "R": window.mark_reviewed, "C": window.cycle_heat_map, "Ctrl+Z": window.undo,
            "Ctrl+Shift+Z": window.redo, "Ctrl+Y": window.redo,
            "[": lambda: size.setValue(max(1, size.value() - 2)), "]": lambda: size.setValue(size.value() + 2)}  # fmt: skip
    for k in range(1, 10):
        keys[str(k)] = lambda k=k: window.class_panel.pick_row(k - 1)
    for key, slot in keys.items():
        QShortcut(
            QKeySequence(key), window, activated=slot, context=Qt.ShortcutContext.WindowShortcut
        )
