"""Canvas and start-up speed: brush segments on a 20-megapixel image, a 10,000-image folder.

1. p50 / p95 milliseconds per brush segment on a 5472 x 3648 image (target p95 < 16 ms). Each
   segment is a real mouse-move event with the left button held, sent to the canvas's viewport;
   the time runs until the event loop has handled it and painted what it scheduled (offscreen),
   at "fit" zoom and at 100 %. Process CPU time is printed beside the wall time, because the
   machine may be shared.
2. Seconds until the main window shows its list and first image for a folder of 10,000 images
   (target < 2 s): the first open (which creates the project) and a reopen.
Run: QT_QPA_PLATFORM=offscreen python bench/canvas.py [--segments N] [--images N] [--only brush|open]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication


def _mouse(view, kind: QEvent.Type, scene: QPointF, held: bool) -> None:
    viewport = view.viewport()
    pos = QPointF(view.mapFromScene(scene))
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    buttons = Qt.MouseButton.LeftButton if held else Qt.MouseButton.NoButton
    event = QMouseEvent(kind, pos, QPointF(viewport.mapToGlobal(pos.toPoint())), button, buttons,
                        Qt.KeyboardModifier.NoModifier)  # fmt: skip
    QApplication.sendEvent(viewport, event)


def brush_segments(app: QApplication, count: int) -> None:
    from app.canvas import CanvasView
    from mcc_engine.project.history import MaskHistory

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (3648, 5472, 3), dtype=np.uint8)
    mask = rng.integers(0, 4, (3648, 5472), dtype=np.uint8)
    view = CanvasView()
    view.resize(1600, 1000)
    view.show()
    view.set_palette([(0, 0, 0), (200, 0, 0), (0, 200, 0), (0, 0, 200)])
    start = time.perf_counter()
    view.set_image(rgb, MaskHistory.detached(mask))
    app.processEvents()
    print(f"showing the 5472x3648 image and mask: {(time.perf_counter() - start) * 1000:.0f} ms")
    view.size = 40
    for zoom in ("fit", "100 %"):
        if zoom != "fit":
            view.resetTransform()
            view.centerOn(2700, 1800)
        app.processEvents()
        origin = view.mapToScene(view.viewport().rect().center())
        path = [origin + QPointF(6 * i - 3 * count, 2 * i - count) for i in range(count)]
        _mouse(view, QEvent.Type.MouseButtonPress, path[0], True)
        app.processEvents()
        wall, cpu = [], []
        for point in path[1:]:
            t0, c0 = time.perf_counter(), time.process_time()
            _mouse(view, QEvent.Type.MouseMove, point, True)
            app.processEvents()  # handles the move and paints the regions it scheduled
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        _mouse(view, QEvent.Type.MouseButtonRelease, path[-1], False)
        app.processEvents()
        p50, p95 = np.percentile(wall, [50, 95])
        c50, c95 = np.percentile(cpu, [50, 95])
        print(f"brush segment on 5472x3648 at {zoom}: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
              f"({p95 / 16:.2f} of the 16 ms target); CPU p50 {c50:.1f} ms, p95 {c95:.1f} ms")  # fmt: skip
    view.close()


def open_folder(app: QApplication, count: int) -> None:
    import cv2

    from app.main_window import MainWindow
    from mcc_engine.project.store import Project

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "big"
        (root / "images").mkdir(parents=True)
        tile = np.full((48, 64, 3), 120, np.uint8)
        _, data = cv2.imencode(".jpg", tile)
        rows = ["image,tags"]
        for i in range(count):
            (root / "images" / f"{i:05d}.jpg").write_bytes(data.tobytes())
            rows.append(f"images/{i:05d}.jpg,{'cat' if i % 2 else 'dog'}")
        (root / "tags.csv").write_text("\n".join(rows) + "\n")
        for label in ("first open (creates the project)", "reopen"):
            start = time.perf_counter()
            window = MainWindow(Project.open(root))
            window.show()
            app.processEvents()
            seconds = time.perf_counter() - start
            assert window.image_list.count() == count and window.current is not None
            print(f"{count} images, {label}: window usable in {seconds:.2f} s "
                  f"({seconds / 2:.2f} of the 2 s target)")  # fmt: skip
            window.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--only", choices=("brush", "open"))
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    if args.only != "open":
        brush_segments(app, args.segments)
    if args.only != "brush":
        open_folder(app, args.images)


if __name__ == "__main__":
    main()
