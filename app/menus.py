"""The main window's actions with their keys, its menus, and the keys that are not in a menu.

Every key the window answers to is defined here once, on a QAction (shown in its menu) or a
QShortcut (with a description); the shortcut sheet (F1) reads them back from the window, so it
lists exactly the keys that work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import qtawesome as qta
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence, QShortcut

from app import settings
from app.theme import theme

if TYPE_CHECKING:
    from app.main_window import MainWindow


def action(
    window: MainWindow, text: str, slot=None, *, keys=(), icon: str = "", checkable: bool = False
) -> QAction:
    """A window action: its text names it in menus, the key sheet and (with its keys) tool tips."""
    made = QAction(qta.icon(icon) if icon else QIcon(), text, window, checkable=checkable)
    if icon:
        window.icon_actions.append((made, icon))
    if keys:
        made.setShortcuts([QKeySequence(k) for k in keys])
        made.setToolTip(f"{text} ({', '.join(keys)})")
    if slot is not None:
        made.triggered.connect(slot)
    return made


def build_actions(window: MainWindow) -> None:
    """The actions menus and the tool bar share (one QAction per key, so no key is ambiguous)."""
    window.undo_action = action(window, "Undo", window.undo, keys=("Ctrl+Z",), icon="mdi6.undo")
    window.redo_action = action(
        window, "Redo", window.redo, keys=("Ctrl+Shift+Z", "Ctrl+Y"), icon="mdi6.redo"
    )
    window.fit_action = action(
        window, "Fit the image", window.canvas.fit, keys=("F",), icon="mdi6.fit-to-screen-outline"
    )
    window.review_action = action(
        window,
        "Mark reviewed and go to the next image",
        window.mark_reviewed,
        keys=("R",),
        icon="mdi6.check-decagram",
    )
    window.previous_action = action(
        window, "Previous image", lambda: window.step_image(-1), keys=("A",)
    )
    window.next_action = action(window, "Next image", lambda: window.step_image(1), keys=("D",))
    window.unreviewed_action = action(
        window, "Next unreviewed image", window.next_unreviewed, keys=("N",)
    )
    window.heat_action = action(
        window, "Cycle heat map: none, confidence, CAM", window.cycle_heat_map, keys=("C",)
    )
    window.sheet_action = action(
        window, "Keyboard shortcuts", window.show_shortcuts, keys=("F1", "?"), icon="mdi6.keyboard"
    )


def build_menus(window: MainWindow) -> None:
    """File, Edit (undo, redo), View, Image (go to, review), Help (the key sheet)."""
    menu = window.menuBar().addMenu("&File")
    menu.addAction(
        action(
            window, "Open data folder…", lambda: window.ask_open("folder"), icon="mdi6.folder-image"
        )
    )
    menu.addAction(
        action(
            window,
            "Open project…",
            lambda: window.ask_open("project"),
            icon="mdi6.database-outline",
        )
    )
    recent = menu.addMenu("Open recent")
    for path in settings.recent_projects():
        recent.addAction(path, lambda p=path: window.open_requested.emit(p))
    recent.setEnabled(bool(recent.actions()))
    menu.addAction("Open the demo", lambda: window.open_requested.emit("demo"))
    menu.addSeparator()
    menu.addAction(action(window, "Export dataset…", window.export_dialog, icon="mdi6.export"))
    menu.addAction(window.tagging.save_action)
    for text, kind in (
        ("Import VOC masks…", "voc"),
        ("Import COCO json…", "coco"),
        ("Import labelme folder…", "labelme"),
    ):
        menu.addAction(text, lambda k=kind: window.import_masks(k))
    menu.addSeparator()
    menu.addAction("Quit", QKeySequence.StandardKey.Quit, window.close)
    edit = window.menuBar().addMenu("&Edit")
    edit.addAction(window.undo_action)
    edit.addAction(window.redo_action)
    view = window.menuBar().addMenu("&View")
    view.addAction(window.tagging.action)
    for item in (window.fit_action, window.outline_action, window.heat_action):
        view.addAction(item)
    view.addSeparator()
    themes = view.addMenu("Theme")
    group = QActionGroup(window)
    for mode in settings.THEMES:
        choice = themes.addAction(mode.capitalize() if mode != "system" else "Follow the system")
        choice.setCheckable(True)
        choice.setChecked(mode == settings.theme())
        choice.triggered.connect(lambda _=False, m=mode: _set_theme(window, m))
        group.addAction(choice)
    image = window.menuBar().addMenu("&Image")
    for item in (
        window.previous_action,
        window.next_action,
        window.unreviewed_action,
        window.review_action,
    ):
        image.addAction(item)
    help_menu = window.menuBar().addMenu("&Help")
    help_menu.addAction(window.sheet_action)


def _set_theme(window: MainWindow, mode: str) -> None:
    settings.set_value("theme", mode)
    theme().apply(mode)
    refresh_icons(window)


def refresh_icons(window: MainWindow) -> None:
    """Redraw the icons in the theme's colours (qtawesome colours are fixed when made)."""
    for item, icon in window.icon_actions:
        item.setIcon(qta.icon(icon))
    window.refresh_classes()  # the class swatches' tag marks are icons too


def build_shortcuts(window: MainWindow) -> None:
    """Keys without a menu entry: [ ] brush size, 1-9 classes (window-wide, whatever has focus)."""
    size = window.size_spin
    keys = {
        "[": ("Brush smaller", lambda: size.setValue(max(1, size.value() - 2))),
        "]": ("Brush larger", lambda: size.setValue(size.value() + 2)),
    }
    for k in range(1, 10):
        keys[str(k)] = (f"Class {k}", lambda k=k: window.class_panel.pick_row(k - 1))
    for key, (what, slot) in keys.items():
        shortcut = QShortcut(QKeySequence(key), window, activated=slot)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.setWhatsThis(what)
