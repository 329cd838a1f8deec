"""Files the program ships (icons, ...): found the same way from source, a wheel and the bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_dir() -> Path:
    """The folder holding the resources: inside the PyInstaller bundle, or beside this module."""
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        # The spec copies this folder to the same relative place in the bundle.
        return Path(bundle) / "mcc_engine" / "resources"
    return Path(__file__).resolve().parent


def resource_path(name: str) -> Path:
    """The path of the resource `name` (POSIX, e.g. "icons/mcc-annotate.png"); it must exist."""
    path = resource_dir().joinpath(*name.split("/"))
    if not path.is_file():
        raise FileNotFoundError(f"resource {name!r} is missing from {resource_dir()}")
    return path
