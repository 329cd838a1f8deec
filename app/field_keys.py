"""Keys in the window's fields, as annotation tools have them: single-key shortcuts never type into
a field by mistake, and Escape (or Enter, once a search or number is typed) goes back to the canvas.

- Escape in any text field, number field or drop-down: focus back on the canvas.
- Enter in the search field or a number field: the entry is taken, focus back on the canvas.
- A letter or bracket in a number field is a shortcut (D: next image), never typed; the number
  typed so far is taken and focus goes back to the canvas, so the next digit picks a class.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QLineEdit, QWidget

NUMBER_KEYS = frozenset("0123456789+-.,")
ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class FieldKeys(QObject):
    """An event filter on a window's fields that hands single keys back to the canvas."""

    def __init__(
        self, window: QWidget, canvas: QWidget, *, back_on_enter: tuple[QWidget, ...]
    ) -> None:
        super().__init__(window)
        self.canvas = canvas
        self.back_on_enter = set(back_on_enter)
        kinds = (QLineEdit, QAbstractSpinBox, QComboBox)
        for field in window.findChildren(QWidget):
            inner = isinstance(field.parent(), QAbstractSpinBox | QComboBox)
            if isinstance(field, kinds) and not inner:  # a spin box's own line edit: not focused
                field.installEventFilter(self)

    def eventFilter(self, field: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.ShortcutOverride and isinstance(field, QAbstractSpinBox):
            text = event.text()
            if (
                text
                and text.isprintable()
                and text not in NUMBER_KEYS
                and not event.modifiers() & ~Qt.KeyboardModifier.ShiftModifier
            ):
                field.interpretText()
                self.canvas.setFocus(Qt.FocusReason.ShortcutFocusReason)
                event.ignore()  # not overridden: the window's shortcut for this key runs
                return True
        elif kind == QEvent.Type.KeyPress:
            if event.key() == Qt.Key.Key_Escape:
                self.canvas.setFocus(Qt.FocusReason.ShortcutFocusReason)
                return True
            if event.key() in ENTER and (
                field in self.back_on_enter or isinstance(field, QAbstractSpinBox)
            ):
                field.event(event)  # the field takes its entry first (search, value)
                self.canvas.setFocus(Qt.FocusReason.ShortcutFocusReason)
                return True
        return False
