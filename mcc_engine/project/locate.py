"""Which folder a path names as a project: a data folder, or its mcc_project/project.sqlite.

A file is a project only where a project puts it, and only when it is a SQLite database: anything
else is refused before a folder is touched, so that picking a stray file never turns the folder
around it (or the one above) into a data folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from mcc_engine.data.folder import PROJECT_FOLDER
from mcc_engine.errors import InputError

PROJECT_FILE: Final = "project.sqlite"
SQLITE_HEADER: Final = b"SQLite format 3\x00"


def is_sqlite_file(path: Path) -> bool:
    """Whether a file starts with SQLite's header (an empty file is not a database yet)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def project_root(path: str | Path) -> Path:
    """The data folder of a project file, or the folder itself; InputError for anything else."""
    path = Path(path)
    if path.is_dir():
        return path
    where = f"a project is the file {PROJECT_FOLDER}/{PROJECT_FILE} inside a data folder"
    if path.is_file() or path.suffix == ".sqlite":
        if path.name != PROJECT_FILE or path.parent.name != PROJECT_FOLDER:
            raise InputError(path, f"not an MCC Annotate project ({where})")
        if not is_sqlite_file(path):
            raise InputError(path, "not an MCC Annotate project (not a SQLite database)")
        return path.parent.parent
    raise InputError(path, "neither a data folder nor a project file")
