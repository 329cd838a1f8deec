"""Shared test set-up: the repository root on sys.path, Qt offscreen, no network downloads."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never reach a hub: any attempt fails fast instead of hanging on a closed network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
