"""Before Qt starts on X11: are the system libraries of Qt's xcb platform plugin there?

Without them Qt stops with "Could not load the Qt platform plugin xcb", which tells nobody what to
install. This module knows the plugin's libraries (the NEEDED entries of PySide6's
libQt6XcbQpa.so.6 and libqxcb.so) and the Debian / Ubuntu package of each, so the app can print
the one apt command that fixes a bare desktop. It imports no Qt: it runs before Qt loads.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

# soname -> Debian / Ubuntu package. The first three are the ones a fresh desktop most often lacks.
XCB_LIBRARIES: Final = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}
# Bundled into the packaged app (packaging/mcc-annotate.spec): the libraries that are not part of
# every X11 desktop. libxcb, libX11 and libxkbcommon come with any X server session.
BUNDLED_XCB: Final = tuple(
    name
    for name in XCB_LIBRARIES
    if name not in ("libxcb.so.1", "libX11.so.6", "libxkbcommon.so.0")
)


def loadable(soname: str) -> bool:
    """Whether the dynamic loader finds a library by its soname (in the bundle, when frozen)."""
    bundle = getattr(sys, "_MEIPASS", None)
    places = [Path(bundle) / "PySide6" / "Qt" / "lib" / soname] if bundle else []
    for name in [*map(str, places), soname]:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    return False


def system_library(soname: str) -> Path | None:
    """Where the system keeps a library (from the loader's cache, `ldconfig -p`), or None."""
    try:
        listing = subprocess.run(
            ["ldconfig", "-p"],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/sbin:/usr/sbin:/bin:/usr/bin"},
        ).stdout
    except OSError:
        return None
    wide = sys.maxsize > 2**32  # a 64-bit Python loads only the 64-bit copy ("libc6,x86-64")
    for line in listing.splitlines():
        entry, _, target = line.strip().partition(" => ")
        name, _, tag = entry.partition(" ")
        if name == soname and ("64" in tag) == wide and Path(target).is_file():
            return Path(target)
    return None


def xcb_will_load(environ: Mapping[str, str]) -> bool:
    """Whether Qt is about to load its xcb plugin: on Linux, asked for or by default, with X11."""
    platform = environ.get("QT_QPA_PLATFORM", "")
    if platform not in ("", "xcb") or not environ.get("DISPLAY"):
        return False
    # Unasked, Qt prefers Wayland in a Wayland session; XWayland's DISPLAY is then a fallback.
    wayland = environ.get("XDG_SESSION_TYPE") == "wayland" and environ.get("WAYLAND_DISPLAY")
    return platform == "xcb" or not wayland


def missing_xcb(
    *,
    environ: Mapping[str, str] | None = None,
    load: Callable[[str], bool] | None = None,
    platform: str | None = None,
) -> list[str]:
    """Sonames of the xcb plugin's libraries the loader cannot find (empty when not on xcb)."""
    environ = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux") or not xcb_will_load(environ):
        return []
    load = load or loadable
    return [name for name in XCB_LIBRARIES if not load(name)]


def apt_command(missing: list[str]) -> str:
    """The one apt command that installs the packages of the missing libraries."""
    packages = sorted({XCB_LIBRARIES[name] for name in missing})
    return "sudo apt-get install -y " + " ".join(packages)


def explain(missing: list[str]) -> str:
    """What to tell the user when libraries are missing (a few lines for a terminal)."""
    return (
        "mcc-annotate: Qt's X11 platform plugin (xcb) needs system libraries that are missing: "
        f"{', '.join(missing)}.\nOn Debian or Ubuntu, install them with:\n\n    "
        f"{apt_command(missing)}\n\nthen start the app again. (Or run on another platform, e.g. "
        "QT_QPA_PLATFORM=wayland.)"
    )


if __name__ == "__main__":  # on a build machine: what the packaged app would not carry
    absent = [name for name in BUNDLED_XCB if system_library(name) is None]
    print(apt_command(absent) if absent else "every xcb library the bundle carries is here")
