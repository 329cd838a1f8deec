"""PySide6 6.12.0 on CPython 3.11 loses references to None and True; the app guards against it."""

import subprocess
import sys
from pathlib import Path

from app.pyside_guard import drops_references

ROOT = Path(__file__).resolve().parents[2]
CALLS = """
import os, sys
sys.path.insert(0, {root!r})
from PySide6.QtCore import QObject, Signal
if {guarded}:
    from app.pyside_guard import guard
    guard()
class Probe(QObject):
    ping = Signal()
probe = Probe()
for _ in range(3 * max(sys.getrefcount(None), sys.getrefcount(True)) if not {guarded} else 300000):
    probe.setObjectName("x")
    probe.ping.emit()
print("alive")
"""


def _run(guarded: bool) -> subprocess.CompletedProcess:
    code = CALLS.format(root=str(ROOT), guarded=guarded)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_many_calls_into_pyside_do_not_abort_the_process():
    done = _run(guarded=True)
    assert done.returncode == 0 and "alive" in done.stdout, done.stderr[-2000:]
    if drops_references():  # the PySide6 here has the bug: without the guard, the same calls abort
        unguarded = _run(guarded=False)
        assert unguarded.returncode != 0 and "dealloc" in unguarded.stderr
