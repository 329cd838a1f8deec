"""The shortcut sheet (F1 or ?): every key the window answers to, read from the window itself
(its actions and shortcuts, and the canvas's own keys), so the sheet cannot drift from the keys."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout

from app.canvas import CANVAS_KEYS


def window_keys(window) -> list[tuple[str, str]]:
    """(keys, what they do) for the window's actions with keys, its shortcuts and the canvas."""
    rows: list[tuple[str, str]] = []
    for item in window.findChildren(QAction):
        keys = [k.toString() for k in item.shortcuts() if not k.isEmpty()]
        if keys:
            rows.append((", ".join(keys), item.text().replace("&", "").rstrip("…")))
    for shortcut in window.findChildren(QShortcut):
        if not shortcut.key().isEmpty():
            rows.append((shortcut.key().toString(), shortcut.whatsThis()))
    rows += [(key, what) for key, what in CANVAS_KEYS]
    rows += [("Wheel", "zoom, keeping the pixel under the cursor")]
    return rows


class ShortcutSheet(QDialog):
    """A table of keys and what they do; Escape or the window's close button closes it."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = window_keys(window)
        table = QTableWidget(len(self.rows), 2)
        table.setHorizontalHeaderLabels(["Keys", "What they do"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for row, (keys, what) in enumerate(self.rows):
            shown = ", ".join(
                QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) or k
                for k in keys.split(", ")
            )
            table.setItem(row, 0, QTableWidgetItem(shown))
            table.setItem(row, 1, QTableWidgetItem(what))
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        self.resize(560, 640)

    def listed_keys(self) -> set[str]:
        """Every key on the sheet (portable text, as QKeySequence.toString gives it)."""
        return {k for keys, _ in self.rows for k in keys.split(", ")}
