"""Light and dark themes; "system" follows the desktop's colour scheme, also when it changes."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from mcc_engine.resources import resource_path

_DARK = {
    QPalette.ColorRole.Window: (45, 47, 51),
    QPalette.ColorRole.WindowText: (222, 224, 228),
    QPalette.ColorRole.Base: (32, 34, 37),
    QPalette.ColorRole.AlternateBase: (55, 58, 63),
    QPalette.ColorRole.Text: (222, 224, 228),
    QPalette.ColorRole.Button: (55, 58, 63),
    QPalette.ColorRole.ButtonText: (222, 224, 228),
    QPalette.ColorRole.ToolTipBase: (55, 58, 63),
    QPalette.ColorRole.ToolTipText: (222, 224, 228),
    QPalette.ColorRole.Highlight: (53, 132, 228),
    QPalette.ColorRole.HighlightedText: (255, 255, 255),
    QPalette.ColorRole.Link: (120, 170, 255),
    QPalette.ColorRole.PlaceholderText: (140, 144, 150),
    QPalette.ColorRole.Mid: (70, 73, 78),
    QPalette.ColorRole.Dark: (30, 31, 34),
    QPalette.ColorRole.Light: (80, 83, 88),
    QPalette.ColorRole.Midlight: (66, 69, 74),
    QPalette.ColorRole.Shadow: (15, 15, 16),
    QPalette.ColorRole.BrightText: (255, 255, 255),
}


def _dark_sheet() -> str:
    return resource_path("styles/dark.qss").read_text(encoding="utf-8")


def dark_palette() -> QPalette:
    """The dark palette."""
    palette = QPalette()
    for role, rgb in _DARK.items():
        palette.setColor(role, QColor(*rgb))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 123, 128))
    return palette


def system_is_dark() -> bool:
    """Whether the desktop asks for a dark scheme."""
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


class Theme(QObject):
    """Applies a theme to the app; `changed` lets windows recolour their icons."""

    changed = Signal()

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.app = app
        self.mode = "system"
        app.styleHints().colorSchemeChanged.connect(self._system_changed)

    def apply(self, mode: str) -> None:
        """system, light or dark."""
        self.mode = mode
        dark = system_is_dark() if mode == "system" else mode == "dark"
        if self.app.style().name().lower() != "fusion":
            self.app.setStyle("Fusion")  # by name, once: Qt owns the style object
        palette = dark_palette() if dark else self.app.style().standardPalette()
        self.app.setPalette(palette)
        self.app.setStyleSheet(_dark_sheet() if dark else "")
        text = palette.color(QPalette.ColorRole.WindowText).name()
        disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText).name()
        qta.set_global_defaults(color=text, color_disabled=disabled)
        qta.reset_cache()  # cached icons keep the colour they were made with
        self.changed.emit()

    def is_dark(self) -> bool:
        """Whether the dark palette is on."""
        return self.app.palette().color(QPalette.ColorRole.Window).lightness() < 128

    def _system_changed(self, _scheme) -> None:
        if self.mode == "system":
            self.apply("system")


_theme: Theme | None = None


def theme(app: QApplication | None = None) -> Theme:
    """The app's one Theme object."""
    global _theme
    if _theme is None or _theme.app is not (app or QApplication.instance()):
        _theme = Theme(app or QApplication.instance())
    return _theme
