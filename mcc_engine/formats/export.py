"""Export a data folder and its masks as a PASCAL VOC or COCO dataset, all or nothing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Final

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from mcc_engine.atomic import staged_directory
from mcc_engine.data.folder import DataFolder, Sample, load_data_folder
from mcc_engine.data.images import image_size, read_image
from mcc_engine.data.masks import IGNORE, encode_mask, mask_rel_path, read_mask, voc_colormap
from mcc_engine.errors import Cancelled, InputError
from mcc_engine.formats.components import Component, components, instance_mask

MIN_POLYGON_AREA: Final = 4  # components smaller than this many pixels are dropped as polygons
EXPORT_LAYOUT: Final = frozenset({"VOCdevkit", "images", "annotations"})  # what an export holds


@dataclass
class ExportSummary:
    """What an export wrote, and what it left out."""

    out: Path
    fmt: str
    train: list[str] = field(default_factory=list)
    val: list[str] = field(default_factory=list)
    annotations: int = 0
    without_mask: list[str] = field(default_factory=list)
    not_chosen: list[str] = field(default_factory=list)  # left out by `only`
    dropped_specks: int = 0

    def describe(self) -> str:
        """One paragraph for people."""
        lines = [
            f"exported {len(self.train) + len(self.val)} images as {self.fmt.upper()} to "
            f"{self.out} ({len(self.train)} train, {len(self.val)} val)"
        ]
        if self.fmt == "coco":
            lines.append(f"{self.annotations} annotations")
        if self.not_chosen:
            lines.append(f"{len(self.not_chosen)} images not chosen were left out")
        if self.without_mask:
            lines.append(
                f"{len(self.without_mask)} images without a mask were left out, "
                f"e.g. {self.without_mask[0]}"
            )
        if self.dropped_specks:
            lines.append(f"{self.dropped_specks} specks under {MIN_POLYGON_AREA} px dropped")
        return "; ".join(lines)


def image_id(rel_path: str) -> str:
    """A flat file stem for an image's relative path ("a/b c.jpg" -> "a__b c")."""
    return "__".join(PurePosixPath(rel_path).with_suffix("").parts)


def split(names: list[str], *, val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """A seeded train/val split; the same inputs always give the same split."""
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(None, f"--val-fraction must be in [0, 1), not {val_fraction}")
    order = np.random.default_rng(seed).permutation(len(names))
    n_val = round(len(names) * val_fraction)
    val = sorted(names[i] for i in order[:n_val])
    train = sorted(names[i] for i in order[n_val:])
    return train, val


def export_dataset(
    *,
    data: str | Path | DataFolder,
    masks: str | Path,
    fmt: str,
    out: str | Path,
    val_fraction: float = 0.2,
    coco_segmentation: str = "rle",
    include_unlabelled: bool = False,
    only: Collection[str] | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ExportSummary:
    """Write `out` as VOC or COCO from the data folder's images and the masks in `masks`.

    `only` (relative image paths) restricts the export to those images, e.g. the reviewed and
    edited ones; None exports every image with a mask.
    """
    folder = data if isinstance(data, DataFolder) else load_data_folder(data)
    masks = Path(masks)
    if not masks.is_dir():
        raise InputError(masks, "masks folder not found")
    if fmt not in ("voc", "coco"):
        raise InputError(None, f"unknown format {fmt!r}; use voc or coco")
    summary = ExportSummary(out=Path(out), fmt=fmt)
    chosen: list[tuple[Sample, Path | None]] = []
    only = None if only is None else set(only)
    for sample in folder.samples:
        if only is not None and sample.rel_path not in only:
            summary.not_chosen.append(sample.rel_path)
            continue
        path = masks / mask_rel_path(sample.rel_path)
        if path.is_file():
            chosen.append((sample, path))
        else:
            summary.without_mask.append(sample.rel_path)
            if include_unlabelled:
                chosen.append((sample, None))
    if not chosen:
        raise InputError(masks, "no masks for any image of the data folder")
    _check_destination(Path(out))
    train, val = split([s.rel_path for s, _ in chosen], val_fraction=val_fraction, seed=seed)
    summary.train, summary.val = train, val
    writer = _write_voc if fmt == "voc" else _write_coco
    with staged_directory(out) as stage:
        writer(
            stage,
            folder,
            chosen,
            summary,
            coco_segmentation=coco_segmentation,
            progress=progress,
            should_stop=should_stop,
        )
    return summary


def _check_destination(out: Path) -> None:
    """Refuse to replace a file, or a folder that holds something other than an export."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError(out, "exists and is not a folder; choose a folder name for the export")
    other = sorted(
        p.name for p in out.iterdir() if p.name not in EXPORT_LAYOUT and p.name[0] != "."
    )
    if other:
        raise InputError(
            out,
            f"holds {other[0]!r}, so it is not an earlier export that may be "
            "replaced; choose a new or empty folder",
        )


def _load_pair(
    folder: DataFolder, sample: Sample, mask_path: Path | None
) -> tuple[np.ndarray, tuple[int, int]]:
    width, height = image_size(folder.image_path(sample))
    if mask_path is None:  # --include-unlabelled: nobody has said what any pixel is
        return np.full((height, width), IGNORE, np.uint8), (width, height)
    mask = read_mask(mask_path, num_classes=len(folder.classes) + 1)
    if mask.shape != (height, width):
        raise InputError(
            mask_path, f"mask is {mask.shape[1]}x{mask.shape[0]} but its image is {width}x{height}"
        )
    return mask, (width, height)


def _copy_image(folder: DataFolder, sample: Sample, dest: Path, *, as_jpeg: bool) -> None:
    """Copy an image that decodes to its end; re-encode it upright where EXIF turns it."""
    source = folder.image_path(sample)
    is_jpeg = source.suffix.lower() in (".jpg", ".jpeg")
    if _orientation_of_whole_image(source) in (0, 1) and (is_jpeg or not as_jpeg):
        shutil.copyfile(source, dest)
        return
    # Readers such as torchvision ignore EXIF orientation: store the pixels as they are shown.
    pixels = Image.fromarray(read_image(source))
    if as_jpeg or is_jpeg:
        pixels.save(dest, format="JPEG", quality=95)
    else:
        pixels.save(dest)


def _orientation_of_whole_image(path: Path) -> int:
    """The EXIF orientation, after decoding every byte (JPEGs at 1/8 scale, which reads them all)."""
    try:
        with Image.open(path) as image:
            orientation = int(image.getexif().get(0x0112, 1))
            if image.format == "JPEG":
                image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(path, f"unreadable or truncated image ({exc})") from None
    return orientation


def _tick(progress, should_stop, done: int, total: int) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled()
    if progress is not None:
        progress(done, total)


def _write_voc(stage, folder, chosen, summary, *, coco_segmentation, progress, should_stop) -> None:
    root = stage / "VOCdevkit" / "VOC2012"
    dirs = {name: root / name for name in ("JPEGImages", "SegmentationClass", "SegmentationObject")}
    for d in dirs.values():
        d.mkdir(parents=True)
    for i, (sample, mask_path) in enumerate(chosen):
        mask, _ = _load_pair(folder, sample, mask_path)
        stem = image_id(sample.rel_path)
        _copy_image(folder, sample, dirs["JPEGImages"] / f"{stem}.jpg", as_jpeg=True)
        (dirs["SegmentationClass"] / f"{stem}.png").write_bytes(encode_mask(mask))
        (dirs["SegmentationObject"] / f"{stem}.png").write_bytes(encode_mask(instance_mask(mask)))
        _tick(progress, should_stop, i + 1, len(chosen))
    sets = root / "ImageSets" / "Segmentation"
    sets.mkdir(parents=True)
    for name, items in (
        ("train", summary.train),
        ("val", summary.val),
        ("trainval", sorted(summary.train + summary.val)),
    ):
        (sets / f"{name}.txt").write_text(
            "".join(f"{image_id(r)}\n" for r in items), encoding="utf-8"
        )
    cmap = voc_colormap()
    names = ["background", *folder.classes]
    lines = ["# label:color_rgb:parts:actions"]
    lines += [f"{n}:{cmap[k][0]},{cmap[k][1]},{cmap[k][2]}::" for k, n in enumerate(names)]
    (root / "labelmap.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _polygons(comp: Component) -> list[list[float]] | None:
    """Outer contours as COCO polygons, or None when the component has holes (then RLE).

    Contours are traced on the component's box upsampled 2x, so vertices fall on pixel edges
    and pycocotools rasterises the polygons back to exactly the same pixels.
    """
    x, y, w, h = comp.bbox
    crop = comp.pixels[y : y + h, x : x + w].astype(np.uint8)
    big = cv2.resize(crop, (2 * w, 2 * h), interpolation=cv2.INTER_NEAREST)
    contours, hierarchy = cv2.findContours(big, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is not None and (hierarchy[0][:, 3] >= 0).any():
        return None
    polys = []
    for contour in contours:
        points = (contour[:, 0, :].astype(np.float64) + 0.5) / 2.0 + (x, y)
        if len(points) >= 3:
            polys.append([round(float(v), 2) for v in points.flatten()])
    return polys


def _write_coco(
    stage, folder, chosen, summary, *, coco_segmentation, progress, should_stop
) -> None:
    if coco_segmentation not in ("rle", "polygon"):
        raise InputError(
            None, f"unknown COCO segmentation {coco_segmentation!r}; use rle or polygon"
        )
    (stage / "images").mkdir()
    (stage / "annotations").mkdir()
    categories = [
        {"id": k, "name": name, "supercategory": "object"}
        for k, name in enumerate(folder.classes, start=1)
    ]
    docs = {
        split: {"images": [], "annotations": [], "categories": categories}
        for split in ("train", "val")
    }
    which = {r: "val" for r in summary.val}
    next_id = 1
    for i, (sample, mask_path) in enumerate(chosen):
        mask, (width, height) = _load_pair(folder, sample, mask_path)
        file_name = image_id(sample.rel_path) + PurePosixPath(sample.rel_path).suffix.lower()
        _copy_image(folder, sample, stage / "images" / file_name, as_jpeg=False)
        doc = docs[which.get(sample.rel_path, "train")]
        doc["images"].append(
            {"id": i + 1, "file_name": file_name, "width": width, "height": height}
        )
        for comp in components(mask):
            ann = {
                "id": next_id,
                "image_id": i + 1,
                "category_id": comp.label,
                "iscrowd": 0,
                "area": comp.area,
                "bbox": list(comp.bbox),
            }
            polys = _polygons(comp) if coco_segmentation == "polygon" else None
            if coco_segmentation == "polygon" and comp.area < MIN_POLYGON_AREA:
                summary.dropped_specks += 1
                continue
            if polys:
                ann["segmentation"] = polys
            else:
                rle = mask_utils.encode(np.asfortranarray(comp.pixels.astype(np.uint8)))
                ann["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            doc["annotations"].append(ann)
            next_id += 1
        _tick(progress, should_stop, i + 1, len(chosen))
    summary.annotations = next_id - 1
    for split_name, doc in docs.items():
        text = json.dumps(doc, separators=(",", ":"))
        (stage / "annotations" / f"instances_{split_name}.json").write_text(text, encoding="utf-8")
