"""What the app remembers between runs (QSettings): recent projects, tool, brush size, opacity,
theme, sort order, preset and iterations, each project's export destination."""

from __future__ import annotations

import hashlib
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


def export_destination(root: Path) -> str | None:
    """Where this project was last exported to, if anywhere."""
    return _settings().value(_export_key(root)) or None


def set_export_destination(root: Path, out: Path) -> None:
    """Remember where this project was exported to."""
    _settings().setValue(_export_key(root), str(out))


def _export_key(root: Path) -> str:
    # One key per project folder; hashed, since QSettings keys treat slashes as groups.
    digest = hashlib.sha1(str(Path(root).resolve()).encode("utf-8", "surrogateescape"))
    return f"export_destination/{digest.hexdigest()[:16]}"
