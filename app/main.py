"""`mcc-annotate [PATH] [--demo] [--smoke --screenshot FILE]`: start the desktop app."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mcc_engine.errors import InputError
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the app; returns its exit status."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.main_window import MainWindow, choose_start
    from mcc_engine.project.store import Project

    QCoreApplication.setOrganizationName("MCC Annotate")
    QCoreApplication.setApplicationName("MCC Annotate")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setWindowIcon(QIcon(str(resource_path("icons/mcc-annotate.png"))))
    target: Path | str | None = args.path
    if args.demo or args.smoke:
        target = "demo"
    if target is None:
        recent = QSettings().value("recent_project")
        target = recent if recent and Path(recent).is_dir() else choose_start()
    if target is None:
        return 0
    try:
        root = ensure_demo() if target == "demo" else Path(target)
        project = Project.open(root)
    except InputError as exc:
        if args.smoke:
            print(f"mcc-annotate: {exc}", file=sys.stderr)
            return 2
        QMessageBox.critical(
            None, "MCC Annotate", f"{exc}\n\nChoose another folder, or try the demo."
        )
        return 2
    window = MainWindow(project)
    window.resize(1366, 768)
    window.show()
    if args.smoke:
        for row in range(window.image_list.count()):  # show an image that has a mask
            window.image_list.setCurrentRow(row)
            if window.current is not None and window.current.state != "new":
                break
        app.processEvents()
        if args.screenshot:
            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            window.grab().save(str(args.screenshot))
        window.close()
        return 0
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
