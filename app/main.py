"""`mcc-annotate [PATH] [--demo] [--smoke --screenshot FILE]`: start the desktop app."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mcc_engine.resources import resource_path


def user_data_dir() -> Path:
    """Where the app keeps its demo and log (MCC_ANNOTATE_HOME overrides, e.g. for tests)."""
    if os.environ.get("MCC_ANNOTATE_HOME"):
        return Path(os.environ["MCC_ANNOTATE_HOME"])
    from PySide6.QtCore import QStandardPaths

    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))


def ensure_demo(*, count: int = 120) -> Path:
    """Create the demo data once; its first tenth comes with reviewed masks as examples."""
    from mcc_engine.data.demo import write_demo
    from mcc_engine.data.masks import read_mask
    from mcc_engine.project.store import Project

    demo = user_data_dir() / "demo"
    if (demo / "mcc_project" / "project.sqlite").exists():
        return demo
    write_demo(demo, count=count)
    with Project.open(demo) as project:
        for image in project.images()[: max(1, count // 10)]:
            truth = read_mask(
                demo / "ground_truth" / project.mask_path(image).relative_to(project.masks_dir)
            )
            project.save_mask(image.id, truth, state="reviewed")
    return demo


def _parse(argv):
    parser = argparse.ArgumentParser(prog="mcc-annotate", description="Annotate masks with MCC.")
    parser.add_argument("path", nargs="?", help="a data folder or a project.sqlite")
    parser.add_argument("--demo", action="store_true", help="open the demo project")
    parser.add_argument("--smoke", action="store_true", help="open, screenshot, exit (checks)")
    parser.add_argument("--screenshot", type=Path, help="with --smoke: where to save the PNG")
    parser.add_argument("--device-probe", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the app; returns its exit status."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.device_probe:  # the window asks this in a separate process (see device_probe.py)
        from app.device_probe import device_name

        if hasattr(os, "nice"):
            os.nice(10)  # loading torch here must not slow the window that asked

        print(device_name())
        return 0
    from app.platform_check import explain, missing_xcb

    missing = missing_xcb()  # before Qt loads its xcb plugin and stops with a cryptic message
    if missing:
        print(explain(missing), file=sys.stderr)
        return 2
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from app import pyside_guard, settings
    from app.errors import install_excepthook, setup_logging
    from app.launcher import Launcher
    from app.theme import theme

    QCoreApplication.setOrganizationName("MCC Annotate")
    QCoreApplication.setApplicationName("MCC Annotate")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setWindowIcon(QIcon(str(resource_path("icons/mcc-annotate.png"))))
    setup_logging()
    pyside_guard.guard()  # before the window makes its first calls (logged: after set-up)
    install_excepthook()
    theme(app).apply(settings.theme())
    launcher = Launcher(quiet=args.smoke)
    if args.smoke:
        return _smoke(app, launcher, args.screenshot)
    target = "demo" if args.demo else args.path
    if target is None:
        recent = settings.recent_projects()
        target = recent[0] if recent else None
    if target is None or launcher.open(target) is None:
        launcher.show_start()
    status = app.exec()
    launcher.dispose()
    return status


def _smoke(app, launcher, screenshot: Path | None) -> int:
    """Open the demo, show an image with a mask and its thumbnails, save a PNG, exit."""
    import time

    from PySide6.QtCore import QThread

    window = launcher.open("demo")
    if window is None:
        return 2
    for row in range(window.image_list.count()):  # show an image that has a mask
        window.image_list.set_current_row(row)
        if window.current is not None and window.current.state != "new":
            break
    deadline = time.monotonic() + 20
    app.processEvents()
    while not window.image_list.thumbnails_shown() and time.monotonic() < deadline:
        app.processEvents()
        QThread.msleep(10)  # smoke mode only: let the thumbnail threads finish the visible rows
    app.processEvents()
    if screenshot:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(screenshot))
    launcher.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
