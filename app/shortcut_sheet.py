"""The shortcut sheet (F1 or ?): every key the window answers to, read from the window itself
(its actions and shortcuts, the canvas's and the tagging grid's own keys), so the sheet cannot
drift from the keys."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout

from app.canvas import CANVAS_KEYS
from app.click_tool import CLICK_KEYS
from app.tag_grid import GRID_KEYS


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
    rows += [(key, what) for key, what in CANVAS_KEYS + CLICK_KEYS]
    rows += [("Wheel", "zoom, keeping the pixel under the cursor")]
    rows += list(GRID_KEYS)
    return rows


def _merge_class_keys(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Show the number keys' "Class k" rows as one row "1 … 9" (the sheet lists them all)."""
    numbers = [keys for keys, what in rows if what.startswith("Class ") and keys.isdigit()]
    if len(numbers) < 2:
        return rows
    merged, done = [], False
    for keys, what in rows:
        if keys in numbers:
            if not done:
                span = f"{numbers[0]} … {numbers[-1]}"
                merged.append((span, f"Class {span}: key k picks class k, on every image"))
                done = True
            continue
        merged.append((keys, what))
    return merged


class ShortcutSheet(QDialog):
    """A table of keys and what they do; Escape or the window's close button closes it."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = window_keys(window)
        shown = _merge_class_keys(self.rows)
        table = QTableWidget(len(shown), 2)
        table.setHorizontalHeaderLabels(["Keys", "What they do"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for row, (keys, what) in enumerate(shown):
            native = ", ".join(
                QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) or k
                for k in keys.split(", ")
            )
            table.setItem(row, 0, QTableWidgetItem(native if " … " not in keys else keys))
            table.setItem(row, 1, QTableWidgetItem(what))
        height = table.fontMetrics().height() + 8
        table.verticalHeader().setDefaultSectionSize(height)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        self.resize(580, min(900, height * (len(shown) + 1) + 40))

    def listed_keys(self) -> set[str]:
        """Every key on the sheet (portable text, as QKeySequence.toString gives it)."""
        return {k for keys, _ in self.rows for k in keys.split(", ")}
