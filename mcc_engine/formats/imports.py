"""Import masks into a project from a VOC folder, a COCO json or labelme json files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from mcc_engine.data.folder import VOC_CLASSES
from mcc_engine.data.masks import IGNORE, read_mask
from mcc_engine.errors import InputError
from mcc_engine.formats.export import image_id
from mcc_engine.project.store import ImageInfo, Project


@dataclass
class ImportReport:
    """What was imported and what did not match the project."""

    imported: list[str] = field(default_factory=list)
    unknown_classes: set[str] = field(default_factory=set)
    missing_images: list[str] = field(default_factory=list)
    size_mismatch: list[str] = field(default_factory=list)
    refused_paths: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One paragraph for people."""
        parts = [f"imported {len(self.imported)} masks"]
        if self.unknown_classes:
            parts.append(
                f"unknown classes (left unlabelled): {', '.join(sorted(self.unknown_classes))}"
            )
        for name, items in (
            ("images not in the project", self.missing_images),
            ("size mismatches", self.size_mismatch),
            ("paths refused (outside the project)", self.refused_paths),
        ):
            if items:
                parts.append(f"{len(items)} {name}, e.g. {items[0]}")
        return "; ".join(parts)


class _Matcher:
    """Finds the project image an imported file name means, by path, flat id or stem."""

    def __init__(self, project: Project) -> None:
        self.by_key: dict[str, ImageInfo] = {}
        for image in project.images():
            for key in (
                image.rel_path,
                image_id(image.rel_path),
                PurePosixPath(image.rel_path).stem,
            ):
                self.by_key.setdefault(key.casefold(), image)

    def find(self, name: str, report: ImportReport) -> ImageInfo | None:
        clean = name.replace("\\", "/")
        if (
            clean.startswith("/")
            or (len(clean) > 1 and clean[1] == ":")
            or ".." in clean.split("/")
        ):
            report.refused_paths.append(name)
            return None
        for key in (clean, PurePosixPath(clean).stem, PurePosixPath(clean).name):
            if key.casefold() in self.by_key:
                return self.by_key[key.casefold()]
        report.missing_images.append(name)
        return None


def _class_map(project: Project, names: dict[int, str], report: ImportReport) -> np.ndarray:
    """A lookup table from the source's values to the project's class indices."""
    index = {c.name.casefold(): c.index for c in project.classes()}
    lut = np.full(256, IGNORE, np.uint8)
    lut[0] = 0
    for value, name in names.items():
        if name.casefold() in ("background", "_background_"):
            lut[value] = 0
        elif name.casefold() in index:
            lut[value] = index[name.casefold()]
        else:
            report.unknown_classes.add(name)
    return lut


def _store(
    project: Project, image: ImageInfo, mask: np.ndarray, name: str, report: ImportReport
) -> None:
    image = project.image(image.id)  # lists leave sizes unread
    if mask.shape != (image.height, image.width):
        report.size_mismatch.append(name)
        return
    project.save_mask(image.id, mask, state="edited")
    report.imported.append(image.rel_path)


def import_voc(project: Project, root: str | Path) -> ImportReport:
    """SegmentationClass/*.png of a VOC folder (class names from labelmap.txt, else VOC's 20)."""
    root = Path(root)
    if (root / "VOCdevkit" / "VOC2012").is_dir():
        root = root / "VOCdevkit" / "VOC2012"
    seg = root / "SegmentationClass"
    if not seg.is_dir():
        raise InputError(root, "no SegmentationClass folder")
    names = {0: "background", **{k: n for k, n in enumerate(VOC_CLASSES, start=1)}}
    if (root / "labelmap.txt").is_file():
        lines = [
            ln
            for ln in (root / "labelmap.txt").read_text(encoding="utf-8").splitlines()
            if ln.strip() and not ln.startswith("#")
        ]
        names = {k: ln.split(":")[0] for k, ln in enumerate(lines)}
    report = ImportReport()
    lut = _class_map(project, names, report)
    matcher = _Matcher(project)
    for path in sorted(seg.glob("*.png")):
        image = matcher.find(path.stem, report)
        if image is not None:
            _store(project, image, lut[read_mask(path)], path.name, report)
    return report


def _load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InputError(path, f"line {exc.lineno}: malformed JSON ({exc.msg})") from None
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror})") from None


def import_coco(project: Project, path: str | Path) -> ImportReport:
    """A COCO instances json: polygons and RLE, iscrowd 0 and 1; larger regions drawn first."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, dict) or not {"images", "annotations", "categories"} <= set(data):
        raise InputError(path, "not a COCO instances file (needs images, annotations, categories)")
    report = ImportReport()
    try:
        cats = {int(c["id"]): str(c["name"]) for c in data["categories"]}
        by_image: dict[int, list] = {}
        for ann in data["annotations"]:
            by_image.setdefault(int(ann["image_id"]), []).append(ann)
        matcher = _Matcher(project)
        index = {c.name.casefold(): c.index for c in project.classes()}
        for info in data["images"]:
            image = matcher.find(str(info["file_name"]), report)
            if image is None:
                continue
            h, w = int(info["height"]), int(info["width"])
            mask = np.zeros((h, w), np.uint8)
            for ann in sorted(
                by_image.get(int(info["id"]), []), key=lambda a: -float(a.get("area", 0))
            ):
                name = cats.get(int(ann["category_id"]), str(ann["category_id"]))
                value = index.get(name.casefold())
                if value is None:
                    report.unknown_classes.add(name)
                    value = IGNORE
                mask[_decode(ann["segmentation"], h, w)] = value
            _store(project, image, mask, str(info["file_name"]), report)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(path, f"malformed COCO content ({type(exc).__name__}: {exc})") from None
    return report


def _decode(seg, h: int, w: int) -> np.ndarray:
    if isinstance(seg, list):
        rles = mask_utils.frPyObjects([p for p in seg if len(p) >= 6], h, w)
        return (
            mask_utils.decode(mask_utils.merge(rles)).astype(bool)
            if rles
            else np.zeros((h, w), bool)
        )
    if isinstance(seg.get("counts"), list):
        seg = mask_utils.frPyObjects(seg, h, w)
    return mask_utils.decode(seg).astype(bool)


def import_labelme(project: Project, folder: str | Path) -> ImportReport:
    """labelme *.json files: polygon, rectangle, circle shapes (drawn in file order)."""
    folder = Path(folder)
    files = sorted(folder.rglob("*.json")) if folder.is_dir() else [folder]
    report = ImportReport()
    matcher = _Matcher(project)
    index = {c.name.casefold(): c.index for c in project.classes()}
    for path in files:
        data = _load_json(path)
        if not isinstance(data, dict) or "shapes" not in data:
            raise InputError(path, "not a labelme file (no shapes)")
        image = matcher.find(str(data.get("imagePath") or path.with_suffix(".jpg").name), report)
        if image is None:
            continue
        size = project.image(image.id)
        h = int(data.get("imageHeight") or size.height)
        w = int(data.get("imageWidth") or size.width)
        mask = np.zeros((h, w), np.uint8)
        for shape in data["shapes"]:
            name = str(shape.get("label", ""))
            value = index.get(name.casefold())
            if value is None:
                report.unknown_classes.add(name)
                value = IGNORE
            points = np.asarray(shape.get("points", []), np.float64)
            kind = shape.get("shape_type") or "polygon"
            if kind == "rectangle" and len(points) == 2:
                (x0, y0), (x1, y1) = np.round(points).astype(int)
                cv2.rectangle(mask, (x0, y0), (x1, y1), value, -1)
            elif kind == "circle" and len(points) == 2:
                radius = round(float(np.linalg.norm(points[1] - points[0])))
                cv2.circle(mask, tuple(np.round(points[0]).astype(int)), radius, value, -1)
            elif len(points) >= 3:
                cv2.fillPoly(mask, [np.round(points).astype(np.int32)], value)
        _store(project, image, mask, path.name, report)
    return report
