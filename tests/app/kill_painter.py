"""Run by a kill test: open a project's window, paint strokes, die by SIGKILL in the last save.

`python kill_painter.py DATA_FOLDER SETTINGS_DIR STROKES`: paints STROKES horizontal strokes with
real mouse events on the first image, and kills itself with SIGKILL at the moment the last
stroke's mask file is about to be renamed into place (its save is in flight: the project's
database may have it, the file not yet). Prints "painted" before the last stroke.
"""

import os
import signal
import sys
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.device_probe import DeviceProbe  # noqa: E402
from app.main_window import MainWindow  # noqa: E402
from mcc_engine.project.store import Project  # noqa: E402
from tests.app.drive import drag  # noqa: E402

data, settings_dir, strokes = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
QCoreApplication.setOrganizationName("MCC Annotate Tests")
QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
DeviceProbe.start = lambda self, **kwargs: None  # the device name plays no part here
app = QApplication([])
window = MainWindow(Project.open(data))
window.resize(1200, 800)
window.show()
masks = str(window.project.masks_dir)
renames = []
real_replace = os.replace


def replace(src, dst, *args, **kwargs):
    """os.replace, except that the last stroke's mask rename never happens: SIGKILL instead."""
    if str(dst).startswith(masks):
        renames.append(dst)
        if len(renames) == strokes:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)


os.replace = replace
for k in range(strokes):
    window.canvas.current_class = 1 + k % 4
    if k == strokes - 1:
        window.saver.flush()  # the earlier strokes are on disk
        print("painted", flush=True)
    drag(window, (5, 10 + 8 * k), (70, 10 + 8 * k))
for _ in range(30000):  # wait for the saver thread to reach the rename (killed there)
    app.processEvents()
    time.sleep(0.002)
sys.exit(3)  # never reached the rename: the test fails on this status
