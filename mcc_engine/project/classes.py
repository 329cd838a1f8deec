"""The project's class list: index 1..K, name and colour (background and 255 are not in it)."""

from __future__ import annotations

from dataclasses import dataclass

from mcc_engine.data.masks import IGNORE, voc_colormap
from mcc_engine.errors import InputError
from mcc_engine.project.database import Database


@dataclass(frozen=True)
class ClassInfo:
    """A class of the project: index 1..K, name and colour."""

    index: int
    name: str
    color: tuple[int, int, int]


def default_color(index: int) -> tuple[int, int, int]:
    """The VOC colour of class `index`."""
    return tuple(int(c) for c in voc_colormap()[index])


class Classes:
    """Reads and edits the class list."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self) -> list[ClassInfo]:
        """The ordered class list (background not included)."""
        rows = self.db.query("SELECT idx, name, color FROM classes ORDER BY idx")
        return [
            ClassInfo(r["idx"], r["name"], tuple(int(c) for c in r["color"].split(",")))
            for r in rows
        ]

    def insert(self, index: int, name: str, color: tuple[int, int, int]) -> None:
        """Store a class as it is (when a project is created)."""
        self.db.query("INSERT INTO classes VALUES (?, ?, ?)", (index, name, _color_text(color)))

    def add(self, name: str, color: tuple[int, int, int] | None = None) -> ClassInfo:
        """Append a class; names are unique, compared without case."""
        name = name.strip()
        if not name:
            raise InputError(self.db.path, "a class needs a name")
        with self.db.transaction():
            classes = self.all()
            if any(c.name.casefold() == name.casefold() for c in classes):
                raise InputError(self.db.path, f"class {name!r} exists already")
            index = len(classes) + 1
            if index >= IGNORE:
                raise InputError(self.db.path, "at most 254 classes")
            color = color or default_color(index)
            self.insert(index, name, color)
        return ClassInfo(index, name, color)

    def rename(self, index: int, name: str) -> None:
        """Give class `index` a new name."""
        name = name.strip()
        if any(c.name.casefold() == name.casefold() and c.index != index for c in self.all()):
            raise InputError(self.db.path, f"class {name!r} exists already")
        self.db.query("UPDATE classes SET name=? WHERE idx=?", (name, index))


def _color_text(color: tuple[int, int, int]) -> str:
    return ",".join(str(int(c)) for c in color)
