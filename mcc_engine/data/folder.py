"""A data folder: images plus image-level tags, in any of the forms product.md lists."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

import numpy as np

from mcc_engine.atomic import atomic_write_text
from mcc_engine.data.images import IMAGE_EXTENSIONS, is_image_file
from mcc_engine.errors import InputError

PROJECT_FOLDER: Final = "mcc_project"
VOC_CLASSES: Final = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)


@dataclass(frozen=True)
class Sample:
    """One image: its POSIX path relative to the data folder and its class indices (1..K)."""

    rel_path: str
    labels: tuple[int, ...]


@dataclass
class DataFolder:
    """Images with their tags resolved to classes; background is not in `classes`."""

    root: Path
    classes: list[str]
    samples: list[Sample]
    warnings: list[str] = field(default_factory=list)

    def image_path(self, sample: Sample) -> Path:
        """Absolute path of a sample's image."""
        return self.root / sample.rel_path

    def label_vector(self, sample: Sample) -> np.ndarray:
        """K floats, 1 where the image carries class k+1."""
        vector = np.zeros(len(self.classes), dtype=np.float32)
        for label in sample.labels:
            vector[label - 1] = 1.0
        return vector

    def with_labels(self, mapping: dict[str, tuple[int, ...]]) -> DataFolder:
        """A copy in which the samples named in `mapping` carry the given labels."""
        samples = [
            Sample(s.rel_path, tuple(sorted(set(mapping[s.rel_path]))))
            if s.rel_path in mapping
            else s
            for s in self.samples
        ]
        return replace(self, samples=samples)


@dataclass(frozen=True)
class _Entry:
    rel_path: str
    tags: tuple[str, ...]
    source: Path
    line: int | None


def load_data_folder(
    root: str | Path, *, classes_file: str | Path | None = None, allow_untagged: bool = False
) -> DataFolder:
    """Read a data folder's images and tags; every problem is an InputError naming its file.

    With `allow_untagged` (a project: tags are given in the app), images without tags are kept
    with no labels: every image of a folder with no tags at all; the images a tags file does not
    list, in the folders it lists images from; the images outside the folders per tag, where a
    classes.txt names the tags (then a sub-folder not named in it holds untagged images). A PNG
    named like a photo elsewhere in the folder (ground_truth/x.png beside images/x.jpg) is a mask
    kept with the data, not an image. Without `allow_untagged` (the CLI), a folder with no tagged
    image is refused.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "data folder not found")
    warnings: list[str] = []
    tags_file = next((root / n for n in ("tags.csv", "tags.json") if (root / n).is_file()), None)
    if tags_file is not None and tags_file.name == "tags.csv":
        entries = _read_tags_csv(tags_file)
    elif tags_file is not None:
        entries = _read_tags_json(tags_file)
    elif (root / "JPEGImages").is_dir():
        return _load_voc(root)
    else:
        named = root / "classes.txt" if allow_untagged and classes_file is None else classes_file
        only = _class_names(Path(named)) if allow_untagged and named else None
        entries = _read_tag_folders(root, only=only)
    if not entries and not allow_untagged:
        raise InputError(
            root, "no tagged images (expected tags.csv, tags.json or a folder per tag)"
        )

    if classes_file is None and (root / "classes.txt").is_file():
        classes_file = root / "classes.txt"
    if classes_file is not None:
        classes = read_classes(Path(classes_file))
    else:
        classes = _classes_from_tags(entries)
    index = {name.casefold(): i + 1 for i, name in enumerate(classes)}

    samples: list[Sample] = []
    seen: set[str] = set()
    for entry in entries:
        if not (root / entry.rel_path).is_file():
            raise InputError(entry.source, f"{_where(entry)}image {entry.rel_path!r} not found")
        if entry.rel_path in seen:
            raise InputError(entry.source, f"{_where(entry)}image {entry.rel_path!r} listed twice")
        seen.add(entry.rel_path)
        labels = set()
        for tag in entry.tags:
            if tag.casefold() not in index:
                raise InputError(
                    entry.source, f"{_where(entry)}tag {tag!r} is not in the class list"
                )
            labels.add(index[tag.casefold()])
        samples.append(Sample(entry.rel_path, tuple(sorted(labels))))

    if allow_untagged:
        unlisted = _unlisted_images(root, seen, tags_file=tags_file)
        samples.extend(Sample(rel, ()) for rel in _without_masks(unlisted, seen))
        if not samples:
            kinds = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
            raise InputError(root, f"no images here ({kinds})")
    elif tags_file is not None:
        unlisted = _unlisted_images(root, seen, tags_file=tags_file)
        if unlisted:
            warnings.append(
                f"{len(unlisted)} image(s) have no entry in the tags file, e.g. {unlisted[0]}"
            )
    return DataFolder(root=root, classes=classes, samples=samples, warnings=warnings)


def _unlisted_images(root: Path, listed: set[str], *, tags_file: Path | None) -> list[str]:
    """Images a folder's tags do not name, where they would be data, not masks kept beside it."""
    if not listed:  # no tags at all: every image
        return _scan_images(root)
    if tags_file is None:  # folders per tag: the images outside them
        tags = {rel.split("/", 1)[0] for rel in listed}
        return [rel for rel in _scan_images(root) if rel.split("/", 1)[0] not in tags]
    # Only folders that hold listed images are looked at, so masks kept beside them are not taken.
    folders = {str(Path(p).parent) for p in listed}
    return [p for p in _scan_images(root) if p not in listed and str(Path(p).parent) in folders]


def _without_masks(images: list[str], others: set[str]) -> list[str]:
    """Leave out PNGs named like a photo (not a PNG) among `images` or `others`: masks."""
    photos = {Path(r).stem for r in (*images, *others) if Path(r).suffix.lower() != ".png"}
    return [r for r in images if Path(r).suffix.lower() != ".png" or Path(r).stem not in photos]


def _class_names(path: Path) -> set[str] | None:
    """The casefolded names of a classes.txt, or None without one."""
    return {name.casefold() for name in read_classes(path)} if path.is_file() else None


def read_classes(path: Path) -> list[str]:
    """The class list of a classes.txt: one name per line, order kept, duplicates refused."""
    text = _read_text(path)
    classes: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.strip()
        if not name:
            continue
        if name.casefold() in ("background", "_background_") and not classes:
            continue  # a leading background entry is implied by index 0
        if name.casefold() in seen:
            raise InputError(
                path, f"line {number}: class {name!r} repeats line {seen[name.casefold()]}"
            )
        seen[name.casefold()] = number
        classes.append(name)
    if not classes:
        raise InputError(path, "no class names")
    return classes


def write_tags_csv(folder: DataFolder, path: str | Path) -> None:
    """Write the folder's tags as a tags.csv (header image,tags), atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "tags"])
    for sample in folder.samples:
        writer.writerow([sample.rel_path, ";".join(folder.classes[k - 1] for k in sample.labels)])
    atomic_write_text(path, buffer.getvalue())


def require_utf8_name(root: Path, rel: str) -> None:
    """Refuse an image whose name is not UTF-8: tags.csv, JSON and the exports cannot name it."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        # Python keeps the undecodable bytes as surrogates; show them as \xNN, printable anywhere.
        shown = os.fsencode(root / rel).decode("utf-8", "backslashreplace")  # caf\xe9.jpg
        raise InputError(
            shown,
            "the file name is not UTF-8; rename it (tags, CSV and JSON "
            "files, and the exports, can only name UTF-8 files)",
        ) from None


def _where(entry: _Entry) -> str:
    return f"line {entry.line}: " if entry.line is not None else ""


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror})") from None


def _split_tags(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(";") if t.strip())


def _clean_rel_path(raw: str, source: Path, line: int | None) -> str:
    rel = raw.strip().replace("\\", "/")
    where = f"line {line}: " if line is not None else ""
    if not rel:
        raise InputError(source, f"{where}empty image name")
    parts = rel.split("/")
    if rel.startswith("/") or ":" in parts[0] or ".." in parts:
        raise InputError(source, f"{where}image path {raw!r} leaves the data folder")
    return "/".join(p for p in parts if p not in ("", "."))


def _read_tags_csv(path: Path) -> list[_Entry]:
    text = _read_text(path)
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(rows)
    except StopIteration:
        raise InputError(path, "empty file; expected the header 'image,tags'") from None
    except csv.Error as exc:
        raise InputError(path, f"line 1: {exc}") from None
    if [h.strip().lower() for h in header[:2]] != ["image", "tags"]:
        raise InputError(path, f"line 1: header must be 'image,tags', not {','.join(header)!r}")
    entries = []
    try:
        for row in rows:
            line = rows.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) > 2 or not row[0].strip():
                raise InputError(path, f"line {line}: expected 'image,tags', got {','.join(row)!r}")
            tags = _split_tags(row[1]) if len(row) == 2 else ()
            entries.append(_Entry(_clean_rel_path(row[0], path, line), tags, path, line))
    except csv.Error as exc:
        raise InputError(path, f"line {rows.line_num}: {exc}") from None
    return entries


def _read_tags_json(path: Path) -> list[_Entry]:
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"line {exc.lineno}: malformed JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise InputError(path, 'expected an object {"image.jpg": ["tag", ...]}')
    entries = []
    for name, tags in data.items():
        if isinstance(tags, str):
            tags = tags.split(";")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise InputError(path, f"entry {name!r}: tags must be a list of strings")
        clean = tuple(t.strip() for t in tags if t.strip())
        entries.append(_Entry(_clean_rel_path(name, path, None), clean, path, None))
    return entries


def _scan_images(root: Path, folder: Path | None = None) -> list[str]:
    # os.walk prunes dot-folders and the project folder (masks, thumbnails) instead of listing
    # them: a 10,000-image folder opens in half the time. Linked folders are followed once.
    found = []
    seen: set[str] = set()
    for parent, dirs, files in os.walk(folder or root, followlinks=True):
        real = os.path.realpath(parent)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != PROJECT_FOLDER]
        rel = Path(parent).relative_to(root).as_posix()
        prefix = "" if rel == "." else f"{rel}/"
        found.extend(prefix + n for n in files if not n.startswith(".") and is_image_file(Path(n)))
    for rel in found:
        require_utf8_name(root, rel)
    return sorted(found, key=lambda rel: rel.split("/"))  # the order of sorted Paths


def _read_tag_folders(root: Path, *, only: set[str] | None = None) -> list[_Entry]:
    """One tag per sub-folder (`only`: the sub-folders named so, casefolded, are tags)."""
    entries = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name.startswith(".") or folder.name == PROJECT_FOLDER:
            continue
        if only is not None and folder.name.strip().casefold() not in only:
            continue
        tag = folder.name.strip()
        entries.extend(_Entry(rel, (tag,), folder, None) for rel in _scan_images(root, folder))
    return entries


def _classes_from_tags(entries: Iterable[_Entry]) -> list[str]:
    spelling: dict[str, str] = {}
    for entry in entries:
        for tag in entry.tags:
            spelling.setdefault(tag.casefold(), tag)
    return [spelling[key] for key in sorted(spelling)]


def _load_voc(root: Path) -> DataFolder:
    """A PASCAL VOC 2012 root: tags from ImageSets/Main/*_trainval.txt or SegmentationClass."""
    images = {p.stem: p for p in (root / "JPEGImages").iterdir() if is_image_file(p)}
    for path in images.values():
        require_utf8_name(path.parent, path.name)
    tags: dict[str, set[int]] = {}
    main = root / "ImageSets" / "Main"
    lists = sorted(main.glob("*_trainval.txt")) if main.is_dir() else []
    if lists:
        classes = [p.name[: -len("_trainval.txt")] for p in lists]
        for k, path in enumerate(lists, start=1):
            for number, line in enumerate(_read_text(path).splitlines(), start=1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 2 or parts[1] not in ("1", "0", "-1"):
                    raise InputError(path, f"line {number}: expected 'image_id 1|0|-1'")
                if parts[1] in ("1", "0"):
                    tags.setdefault(parts[0], set()).add(k)
    elif (root / "SegmentationClass").is_dir():
        from mcc_engine.data.masks import read_mask

        classes = list(VOC_CLASSES)
        for mask_path in sorted((root / "SegmentationClass").glob("*.png")):
            values = np.unique(read_mask(mask_path))
            labels = {int(v) for v in values if 0 < v <= len(classes)}
            tags[mask_path.stem] = labels
    else:
        raise InputError(
            root, "VOC root without ImageSets/Main/*_trainval.txt or SegmentationClass/"
        )
    samples = []
    for stem in sorted(tags):
        if stem not in images:
            raise InputError(root / "JPEGImages", f"image {stem!r} is tagged but missing")
        samples.append(Sample(f"JPEGImages/{images[stem].name}", tuple(sorted(tags[stem]))))
    if not samples:
        raise InputError(root, "no tagged images in this VOC root")
    return DataFolder(root=root, classes=classes, samples=samples, warnings=[])
