"""File → Save tags: the project's tags as a tags.csv (and its classes.txt), never over the
user's own files without asking.

The CSV is the product's format (header `image,tags`, tags joined by `;`, UTF-8, image paths
relative to the data folder) and lists the tagged images only: an untagged image written with no
tags would read as "none of the classes" to `mcc train`. classes.txt goes beside it, so the class
order, and with it the number keys, stays the same when the folder is opened afresh.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.errors import show_error
from mcc_engine.atomic import atomic_write_text
from mcc_engine.data.folder import write_tags_csv
from mcc_engine.errors import InputError
from mcc_engine.project.store import Project


def ask_replace(parent: QWidget, files: list[Path]) -> bool:
    """Whether the person agrees to replace these existing files (No is the default)."""
    names = " and ".join(f.name for f in files)
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Save tags",
        f"{names} already exist{'s' if len(files) == 1 else ''} in {files[0].parent}.\n\n"
        "Replace with the project's tags? The files there now are lost.",
        parent=parent,
    )
    replace = box.addButton("Replace", QMessageBox.ButtonRole.AcceptRole)
    keep = box.addButton("Keep them", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    box.exec()
    return box.clickedButton() is replace


def save_tags(parent: QWidget, project: Project) -> str | None:
    """Ask where, confirm a replacement, write atomically; a line saying what was written."""
    chosen, _ = QFileDialog.getSaveFileName(
        parent,
        "Save tags",
        str(project.root / "tags.csv"),
        "Tags (*.csv)",
        options=QFileDialog.Option.DontConfirmOverwrite,  # ours names both files
    )
    if not chosen:
        return None
    path = Path(chosen)
    if path.suffix.lower() != ".csv":
        path = path.with_name(path.name + ".csv")
    classes_path = path.with_name("classes.txt")
    existing = [p for p in (path, classes_path) if p.exists()]
    if existing and not ask_replace(parent, existing):
        return None
    folder = project.data_folder(tagged=True)
    untagged = project.untagged_count()
    try:
        # classes.txt first: a tags file on disk never names a class its list lacks.
        atomic_write_text(classes_path, "".join(f"{name}\n" for name in folder.classes))
        write_tags_csv(folder, path)
    except (OSError, InputError) as exc:
        show_error(
            parent,
            "Save tags",
            f"{path}: {getattr(exc, 'strerror', None) or exc}",
            advice="Choose another place, or check the folder's permissions and free space.",
        )
        return None
    left = f"; {untagged} untagged images are not in it" if untagged else ""
    return f"Saved the tags of {len(folder.samples)} images to {path}{left}."
