"""Screenshots of the main views, offscreen, for docs/screenshots (a developer's tool).

python -m app.screenshots OUT_DIR [--iters N] [--reuse] [--click-only]: opens the demo in a
temporary user folder, then saves the main window (thumbnails, overlay), the model panel while
fine-tuning for real, the proposals by uncertainty, the confidence heat map, click to segment, the
export dialog, the shortcut sheet, the tagging view (on a copy of the demo without its tags.csv,
with the model's suggestions), the start screen and the dark theme. --click-only: click to segment
alone (with the project's model when there is one, else from the image alone). `--only-tagging
[--checkpoint CKPT]` takes the tagging view alone (suggestions from CKPT, a demo model).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def _wait(app, done, timeout: float = 3 * 3600.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("screenshots: timed out")
        app.processEvents()
        time.sleep(0.02)  # a developer's tool, not a test: polling keeps it simple
    app.processEvents()


def main() -> int:
    """Write the PNGs; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the model and proposals of an earlier run"
    )
    parser.add_argument("--only-tagging", action="store_true", help="the tagging view alone")
    parser.add_argument("--checkpoint", type=Path, help="a demo model for --only-tagging")
    parser.add_argument("--click-only", action="store_true", help="click to segment alone")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(os.environ.setdefault("MCC_ANNOTATE_HOME", tempfile.mkdtemp(prefix="mcc-shots-")))
    import shiboken6
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("MCC Annotate Screenshots")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(home / "settings"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from app.dialogs import ExportDialog
    from app.launcher import Launcher
    from app.menus import refresh_icons
    from app.start_screen import StartScreen
    from app.theme import theme

    theme(app).apply("light")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only_tagging:
        _tagging_view(app, args.out / "tagging_view.png", home=home, checkpoint=args.checkpoint)
        return 0
    launcher = Launcher(quiet=True)
    window = launcher.open("demo")
    window.show()
    rows = window.image_list
    window.outline_action.setChecked(False)
    window.heat_combo.setCurrentIndex(0)
    rows.set_current_row(0)
    _wait(app, lambda: window.image_list.thumbnails_shown())
    _wait(app, lambda: "detecting" not in window.model_panel.device.text())
    window.grab().save(str(args.out / "main_window.png"))
    if args.click_only:
        _click_to_segment(app, window, args.out)
        launcher.dispose()
        return 0

    panel = window.model_panel
    if window.project.latest_checkpoint() is None or not args.reuse:
        panel.iters.setValue(args.iters)
        window.start_training(resume=False)
        _wait(app, lambda: panel.progress.value() >= int(args.iters * 0.6))
        window.grab().save(str(args.out / "model_panel_training.png"))
        _wait(app, lambda: panel.train_button.isEnabled())
        window.start_proposals()
        _wait(app, lambda: "Proposed" in panel.status.text())
    rows.sort.setCurrentIndex(1)
    rows.state_filter.setCurrentText("proposed")
    rows.set_current_row(0)
    _wait(app, lambda: window.image_list.thumbnails_shown())
    window.grab().save(str(args.out / "proposals_uncertainty.png"))
    # Of the ten most uncertain proposals, show the one whose confidence varies most.
    spread = [
        (
            float(m.std())
            if (m := window.project.heat_map(r.id, "confidence")) is not None
            else -1.0,
            i,
        )
        for i, r in enumerate(rows.model.rows[:10])
    ]
    rows.set_current_row(max(spread)[1])
    for index, name in ((1, "heat_map.png"), (2, "heat_map_cam.png")):
        window.heat_combo.setCurrentIndex(index)
        app.processEvents()
        window.grab().save(str(args.out / name))
    window.heat_combo.setCurrentIndex(0)
    _click_to_segment(app, window, args.out)

    dialog = ExportDialog(window, default_out=home / "demo-export", counts=window.mask_counts())
    dialog.show()
    app.processEvents()
    dialog.grab().save(str(args.out / "export_dialog.png"))
    dialog.close()

    window.show_shortcuts()
    app.processEvents()
    window.sheet.grab().save(str(args.out / "shortcut_sheet.png"))
    window.sheet.close()

    theme(app).apply("dark")
    refresh_icons(window)
    rows.state_filter.setCurrentIndex(0)
    rows.sort.setCurrentIndex(0)
    rows.set_current_row(0)  # the navy boat and the green leaf on a dark window
    app.processEvents()
    window.grab().save(str(args.out / "main_window_dark.png"))
    rows.set_current_row(3)
    window.outline_action.setChecked(True)
    app.processEvents()
    window.grab().save(str(args.out / "main_window_dark_outline.png"))
    window.outline_action.setChecked(False)
    theme(app).apply("light")
    refresh_icons(window)
    checkpoint = window.project.latest_checkpoint()
    _tagging_view(app, args.out / "tagging_view.png", home=home, checkpoint=checkpoint)
    start = StartScreen([str(home / "demo")])
    start.show()
    app.processEvents()
    start.grab().save(str(args.out / "start_screen.png"))
    start.close()
    shiboken6.delete(start)  # before the QApplication goes: no widget may outlive it
    launcher.dispose()
    return 0


def _tagging_view(app, path: Path, *, home: Path, checkpoint: Path | None) -> None:
    """The demo without its tags.csv: a person has tagged its first images; the model suggests
    tags (dashed) for the rest; three of them are selected."""
    import csv
    import shutil

    from app.main_window import MainWindow
    from mcc_engine.data.demo import write_demo
    from mcc_engine.project.store import Project

    data = home / "untagged-demo"
    if data.exists():
        shutil.rmtree(data)
    write_demo(data, count=60, seed=3)
    with open(data / "tags.csv", encoding="utf-8") as handle:
        truth = list(csv.reader(handle))[1:]
    (data / "tags.csv").unlink()
    window = MainWindow(Project.open(data))
    window.resize(1366, 768)
    window.show()
    project, view = window.project, window.tagging.view
    index = {c.name: c.index for c in project.classes()}
    ids = {i.rel_path: i.id for i in project.images()}
    project.change_tags({ids[rel]: [index[t] for t in tags.split(";")] for rel, tags in truth[:9]})
    window.image_list.refresh()
    if checkpoint is not None:
        run = project.runs_dir / "run-demo"
        run.mkdir(parents=True, exist_ok=True)
        shutil.copy(checkpoint, run / "last.pt")
        project.add_run(run, run / "last.pt", kind="fine-tune", settings={})
        done = []
        window.jobs.suggestions_done.connect(done.append)
        view.suggest_requested.emit()
        _wait(app, lambda: bool(done))
    rows = window.image_list.model.rows
    window.open_image(rows[0].id)  # the tags panel shows the tags given above
    view.grid.select_ids([r.id for r in rows[10:13]])
    window.statusBar().showMessage(
        "Suggested tags for 51 images: Enter takes them on the selection."
    )
    _wait(app, lambda: not window.thumbnails.busy())
    window.grab().save(str(path))
    window.tagging.set_active(False)  # the next window opens as usual
    window.close()


def _click_to_segment(app, window, out: Path) -> None:
    """A region after two clicks, one inside and one outside, on the demo image where the
    outside click helps most and leaves a good region (found by replaying the benchmark's
    clicks on objects of at least 300 pixels), then dropped."""
    import numpy as np

    from mcc_engine.data.images import read_image
    from mcc_engine.data.masks import mask_rel_path, read_mask
    from mcc_engine.interactive import ClickSession, image_evidence
    from mcc_engine.interactive.protocol import iou, next_click, objects

    best = None
    for row, image in enumerate(window.image_list.model.rows[:80]):
        if image.state == "reviewed":  # the demo's reviewed masks would hide the region
            continue
        truth = read_mask(window.project.root / "ground_truth" / mask_rel_path(image.rel_path))
        evidence = image_evidence(read_image(window.project.image_path(image)))
        for cls, obj in objects(truth, min_area=300):
            session = ClickSession(evidence, class_index=cls)
            first = next_click(np.zeros_like(obj), obj)
            one = session.add(first[0], first[1], positive=True)
            second = next_click(one, obj)
            if second is None or second[2]:
                continue
            two = iou(session.add(second[0], second[1], positive=False), obj)
            gain = two - iou(one, obj)
            if two >= 0.9 and (best is None or gain > best[0]):
                best = (gain, row, cls, first, second)
    _, row, cls, first, second = best
    window.image_list.set_current_row(row)
    window.class_panel.pick_row(cls - 1)
    window.set_tool("click")
    _wait(app, window.click_tool.ready)
    window.click_tool.add_click(first[0], first[1], inside=True)
    window.click_tool.add_click(second[0], second[1], inside=False)
    app.processEvents()
    window.grab().save(str(out / "click_to_segment.png"))
    window.click_tool.drop()
    window.set_tool("brush")


if __name__ == "__main__":
    sys.exit(main())
