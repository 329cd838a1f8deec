"""Files the program ships (icons, styles): the top-level `resources/` folder, found the same way
from a source checkout, an installed wheel and the PyInstaller bundle."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path
from typing import Final

INSTALLED: Final = ("share", "mcc-annotate")  # where the wheel's data files put `resources/`
MARKER: Final = "icons/mcc-annotate.png"  # present in every copy: tells ours from a namesake


def _candidates() -> list[Path]:
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        return [Path(bundle) / "resources"]  # the spec copies the folder to the bundle's top
    # A checkout (also an editable install) first, so that edits show without reinstalling.
    places = [Path(__file__).resolve().parents[1] / "resources"]
    for scheme in (sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user")):
        places.append(Path(sysconfig.get_path("data", scheme)).joinpath(*INSTALLED))
    places.append(Path(sys.prefix).joinpath(*INSTALLED))
    return places


def resource_dir() -> Path:
    """The folder holding the resources (the first candidate when none has them, for messages)."""
    places = _candidates()
    return next((p for p in places if p.joinpath(*MARKER.split("/")).is_file()), places[0])


def resource_path(name: str) -> Path:
    """The path of the resource `name` (POSIX, e.g. "icons/mcc-annotate.png"); it must exist."""
    path = resource_dir().joinpath(*name.split("/"))
    if not path.is_file():
        raise FileNotFoundError(f"resource {name!r} is missing from {resource_dir()}")
    return path
