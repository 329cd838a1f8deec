"""Screenshots of the main views, offscreen, for docs/screenshots (a developer's tool).

python -m app.screenshots OUT_DIR [--iters N] [--reuse]: opens the demo in a temporary user folder, then
saves the main window (thumbnails, overlay), the model panel while fine-tuning for real, the
proposals by uncertainty, the confidence heat map, the export dialog, the shortcut sheet, the
start screen and the dark theme.
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
    spread = [(float(m.std()) if (m := window.project.heat_map(r.id, "confidence")) is not None else -1.0, i)
              for i, r in enumerate(rows.model.rows[:10])]  # fmt: skip
    rows.set_current_row(max(spread)[1])
    for index, name in ((1, "heat_map.png"), (2, "heat_map_cam.png")):
        window.heat_combo.setCurrentIndex(index)
        app.processEvents()
        window.grab().save(str(args.out / name))
    window.heat_combo.setCurrentIndex(0)

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
    start = StartScreen([str(home / "demo")])
    start.show()
    app.processEvents()
    start.grab().save(str(args.out / "start_screen.png"))
    start.close()
    shiboken6.delete(start)  # before the QApplication goes: no widget may outlive it
    launcher.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
