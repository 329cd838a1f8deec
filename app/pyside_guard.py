"""A guard against PySide6 6.12.0's lost references on CPython 3.11.

That release drops one reference to None on every call of a method that returns nothing, and one
to True or False on every signal emitted. CPython 3.12 made these objects immortal, so nothing
shows there; on 3.11 their counts run down as the window works, and once one reaches zero the
process aborts ("Fatal Python error: none_dealloc", first seen in the image list's paint while a
mask was being saved). PySide6 6.11 does not do this (pyproject.toml leaves 6.12.0 out for 3.11);
for an environment that has it anyway, `guard()` notices and makes the three objects as good as
immortal, as 3.12 does.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from typing import Final

log = logging.getLogger(__name__)
_PLENTY: Final = 1 << 40  # references no run of the app can use up
_guarded = False


def drops_references() -> bool:
    """Whether this PySide6 loses references to None or True when called."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    none, true = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(64):
        probe.setObjectName("probe")
        probe.ping.emit()
    return sys.getrefcount(None) < none - 32 or sys.getrefcount(True) < true - 32


def guard() -> bool:
    """On CPython before 3.12 with an affected PySide6, keep None, True and False alive for good;
    returns whether it had to."""
    global _guarded
    if _guarded or sys.version_info >= (3, 12) or not drops_references():
        return _guarded
    _guarded = True
    for singleton in (None, True, False):
        # The reference count is the object's first field (a Py_ssize_t) in CPython builds.
        ctypes.c_ssize_t.from_address(id(singleton)).value += _PLENTY
    from PySide6 import __version__

    python = sys.version.split()[0]
    log.warning("PySide6 %s loses references to None and True on Python %s", __version__, python)
    return True
