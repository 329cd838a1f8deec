"""What the app remembers between runs (QSettings): recent projects, tool, opacity, theme, view."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from PySide6.QtCore import QSettings

RECENT: Final = 8
THEMES: Final = ("system", "light", "dark")


def _settings() -> QSettings:
    return QSettings()


def recent_projects() -> list[str]:
    """Project folders opened before, newest first, that still exist."""
    value = _settings().value("recent_projects", [])
    paths = [value] if isinstance(value, str) else list(value or [])
    return [p for p in paths if p and Path(p).is_dir()]


def add_recent_project(root: Path) -> None:
    """Put a project folder first in the recent list."""
    path = str(Path(root).resolve())
    paths = [path] + [p for p in recent_projects() if p != path]
    _settings().setValue("recent_projects", paths[:RECENT])


def value(key: str, default):
    """A remembered value of the same type as `default`."""
    raw = _settings().value(key, default)
    if isinstance(default, bool):
        return raw in (True, "true", "1", 1)
    try:
        return type(default)(raw)
    except (TypeError, ValueError):
        return default


def set_value(key: str, data) -> None:
    """Remember a value."""
    _settings().setValue(key, data)


def theme() -> str:
    """system, light or dark."""
    name = value("theme", "system")
    return name if name in THEMES else "system"
