"""The engine must import and run where Qt is not installed (CLI, servers, tests)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import importlib, pkgutil, sys
for name in ("PySide6", "qtawesome", "qtpy", "app"):
    sys.modules[name] = None  # any import of these now raises ImportError
import mcc_engine
for info in pkgutil.walk_packages(mcc_engine.__path__, "mcc_engine."):
    if info.name.endswith("__main__"):
        continue
    importlib.import_module(info.name)
print("ok")
"""


def test_every_engine_module_imports_without_qt():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")
