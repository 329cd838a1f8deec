"""Click to segment in the app: milliseconds per click on a 1-megapixel image, through the window.

A demo image resized to 1000 x 1000 in a fresh project; the click tool chosen and its first pass
awaited (its seconds printed); then clicks placed by the benchmark's protocol (positive in a missed
region, negative in a false one) are real mouse events on the canvas's viewport, each timed until
the event loop has handled it and painted the region (offscreen): wall time and process CPU
time (the machine may be shared), the handler alone and with the paint, and the engine's share
(the same clicks on a ClickSession alone, CPU time). Then one box drag, one
Enter (the edit written to the history and queued for saving) and one wand click.
With --checkpoint, the project records that checkpoint as its model, so the first pass is the
model's. Target: each click's update under 150 ms on two CPU cores.
Run: QT_QPA_PLATFORM=offscreen python bench/click_app.py [--checkpoint CKPT] [--clicks N]
     [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

SIDE = 1000


def _project(root: Path, checkpoint: str | None):
    """A data folder with one 1000 x 1000 demo image, its project, and the image's true mask."""
    from mcc_engine.data.demo import write_demo
    from mcc_engine.data.masks import read_mask
    from mcc_engine.project.store import Project

    demo = root / "demo"
    write_demo(demo, count=1, seed=0)
    image = cv2.imread(str(demo / "images" / "scene_0000.jpg"))
    truth = read_mask(demo / "ground_truth" / "images" / "scene_0000.png")
    data = root / "big"
    data.mkdir()
    cv2.imwrite(
        str(data / "big.png"), cv2.resize(image, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR)
    )
    tags = (demo / "tags.csv").read_text().splitlines()[1].split(",", 1)[1]
    (data / "tags.csv").write_text(f"image,tags\nbig.png,{tags}\n")
    (data / "classes.txt").write_text((demo / "classes.txt").read_text())
    project = Project.open(data)
    if checkpoint:
        project.add_run(Path(checkpoint).parent, checkpoint, kind="bench", settings={})
    return project, cv2.resize(truth, (SIDE, SIDE), interpolation=cv2.INTER_NEAREST)


def _timed(app: QApplication, action) -> tuple[float, float, float]:
    """(handler ms, handler and paint ms, CPU ms) of one input event."""
    t0, c0 = time.perf_counter(), time.process_time()
    action()
    t1 = time.perf_counter()
    app.processEvents()  # paints what the handler scheduled
    return (t1 - t0) * 1000, (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint")
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    home = Path(tempfile.mkdtemp(prefix="mcc-click-bench-"))
    os.environ["MCC_ANNOTATE_HOME"] = str(home / "home")
    QCoreApplication.setOrganizationName("MCC Annotate Bench")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(home / "settings"))
    app = QApplication.instance() or QApplication([])
    from app.main_window import MainWindow
    from mcc_engine.interactive import ClickSession
    from mcc_engine.interactive.protocol import iou, next_click, objects

    project, truth_all = _project(home, args.checkpoint)
    cls, truth = max(objects(truth_all), key=lambda found: found[1].sum())
    window = MainWindow(project)
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    canvas, tool = window.canvas, window.click_tool
    viewport = canvas.viewport()

    def press(x: int, y: int, button=Qt.MouseButton.LeftButton) -> None:
        QTest.mouseClick(
            viewport, button, Qt.KeyboardModifier.NoModifier, canvas.mapFromScene(x, y)
        )

    window.class_panel.pick_row(cls - 1)
    start = time.perf_counter()
    window.set_tool("click")
    while not tool.ready():
        app.processEvents()
        time.sleep(0.005)
    model = "the model" if args.checkpoint else "the image alone"
    print(f"{SIDE} x {SIDE} image, {args.threads} threads, evidence from {model}")
    print(f"first pass: {time.perf_counter() - start:.2f} s (in a thread; the window stays live)")
    rows, pred = [], np.zeros_like(truth)
    for _ in range(args.clicks):
        click = next_click(pred, truth) or (SIDE // 2, SIDE // 2, True)
        button = Qt.MouseButton.LeftButton if click[2] else Qt.MouseButton.RightButton
        rows.append(_timed(app, lambda c=click, b=button: press(c[0], c[1], b)))
        pred = tool.region()
    handler, painted, cpu = (sorted(col) for col in zip(*rows, strict=True))
    print(
        f"per click ({args.clicks} clicks, IoU after them {iou(pred, truth):.2f}): "
        f"handler median {statistics.median(handler):.0f} ms, max {handler[-1]:.0f} ms; "
        f"with the paint median {statistics.median(painted):.0f} ms, max {painted[-1]:.0f} ms "
        f"({statistics.median(painted) / 150:.2f} of the 150 ms target); "
        f"CPU median {statistics.median(cpu):.0f} ms"
    )
    engine = []  # the same clicks on the engine alone, for what the window adds
    session = ClickSession(tool._evidence(), class_index=cls)
    for x, y, inside in tool.plan.clicks:
        c0 = time.process_time()
        session.add(x, y, positive=inside)
        engine.append((time.process_time() - c0) * 1000)
    print(
        f"the engine alone (ClickSession.add), same clicks: CPU median "
        f"{statistics.median(engine):.0f} ms; the window adds "
        f"{statistics.median(cpu) - statistics.median(engine):.0f} ms (preview, events, paint)"
    )
    accept = _timed(app, lambda: QTest.keyClick(canvas, Qt.Key.Key_Return))
    print(f"Enter (one edit into the history, saved in the background): {accept[1]:.0f} ms")
    window.set_tool("box")
    ys, xs = np.nonzero(truth)
    first = canvas.mapFromScene(int(xs.min()) - 5, int(ys.min()) - 5)
    last = canvas.mapFromScene(int(xs.max()) + 5, int(ys.max()) + 5)
    left, plain = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier

    def box() -> None:
        QTest.mousePress(viewport, left, plain, first)
        QTest.mouseMove(viewport, (first + last) / 2)
        QTest.mouseRelease(viewport, left, plain, last)

    timed = _timed(app, box)
    print(f"box drag: {timed[1]:.0f} ms (IoU {iou(tool.region(), truth):.2f})")
    window.set_tool("wand")
    x, y = next_click(np.zeros_like(truth), truth)[:2]
    timed = _timed(app, lambda: press(x, y))
    print(f"wand click: {timed[1]:.0f} ms")
    window.close()


if __name__ == "__main__":
    main()
