"""`mcc export` as a user runs it: all or nothing, upright images, honest sizes, no leftovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torchvision.datasets import VOCSegmentation

from mcc_engine.data.images import read_image
from mcc_engine.data.masks import read_mask, write_mask
from tests.engine.cli_run import (
    ROOT,
    command,
    copy_data,
    environment,
    hidden_leftovers,
    make_demo,
    mcc,
    mode,
    refused,
    snapshot,
    succeeded,
    truncate,
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo(tmp_path_factory.mktemp("export") / "demo", count=6)


def _export(data: Path, out: Path, fmt: str = "voc", *more, umask=None):
    return mcc(
        "export",
        "--data",
        data,
        "--masks",
        data / "ground_truth",
        "--format",
        fmt,
        "--out",
        out,
        *more,
        umask=umask,
    )


def test_a_truncated_image_is_refused_and_nothing_is_written(demo, tmp_path):
    data = copy_data(demo, tmp_path / "data")
    (data / "ground_truth").symlink_to(demo / "ground_truth")
    truncate(data / "images" / "scene_0002.jpg", keep=0.6)
    for fmt in ("voc", "coco"):
        out = tmp_path / fmt
        refused(_export(data, out, fmt), "scene_0002.jpg", "truncated")
        assert not out.exists()
    assert hidden_leftovers(tmp_path) == []


def test_an_out_that_is_a_file_or_another_folder_is_refused_and_kept(demo, tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("keep me")
    refused(_export(demo, target), str(target), "not a folder")
    assert target.read_text() == "keep me"
    assert hidden_leftovers(tmp_path) == []
    before = snapshot(demo)
    refused(_export(demo, demo), str(demo), "not an earlier export")
    assert snapshot(demo) == before


def _leftovers_killed(argv, parent: Path, *, tries: int) -> None:
    """Start an export `tries` times and SIGKILL it once its staging folder holds files."""
    rng = np.random.default_rng(5)
    for want in rng.integers(1, 12, size=tries):
        process = subprocess.Popen(
            argv, cwd=ROOT, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        while process.poll() is None:
            staged = [p for p in parent.iterdir() if p.name.startswith(".")]
            if sum(len(files) for s in staged for _, _, files in os.walk(s)) >= want:
                break
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.wait()


def test_the_next_export_removes_what_killed_ones_left(demo, tmp_path):
    data = make_demo(tmp_path / "data", count=24)
    parent = tmp_path / "work"
    parent.mkdir()
    out = parent / "voc"
    argv = command(
        "export", "--data", data, "--masks", data / "ground_truth", "--format", "voc", "--out", out
    )
    _leftovers_killed(argv, parent, tries=3)
    # The hidden copy an older version set aside during its swap, left by a killed run.
    ended = subprocess.Popen(["true"])
    ended.wait()
    (parent / f".voc.old-{ended.pid}").mkdir()
    succeeded(mcc(*argv[3:]))
    assert hidden_leftovers(parent) == []
    assert len(list((out / "VOCdevkit/VOC2012/JPEGImages").iterdir())) == 24


def _rotated_jpeg(path: Path) -> None:
    """A JPEG stored 200 wide x 120 high with EXIF orientation 6 (shown 120 wide x 200 high)."""
    pixels = np.zeros((120, 200, 3), np.uint8)
    pixels[:60, :100] = (230, 30, 30)  # a red quarter, so that a wrong rotation shows
    pixels[60:, 100:] = (30, 30, 230)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(path, quality=95, exif=exif)


@pytest.mark.parametrize("fmt", ["voc", "coco"])
def test_exif_rotated_images_are_exported_upright_with_the_masks_size(tmp_path, fmt):
    data = tmp_path / "data"
    (data / "ground_truth").mkdir(parents=True)
    _rotated_jpeg(data / "turned.jpg")
    Image.new("RGB", (50, 40), (10, 200, 10)).save(data / "plain.png")
    (data / "tags.csv").write_text("image,tags\nturned.jpg,cat\nplain.png,cat\n")
    upright = read_image(data / "turned.jpg")
    assert upright.shape[:2] == (200, 120)
    mask = np.zeros((200, 120), np.uint8)
    mask[:100] = 1
    write_mask(data / "ground_truth" / "turned.png", mask)
    write_mask(data / "ground_truth" / "plain.png", np.ones((40, 50), np.uint8))
    out = tmp_path / "out"
    succeeded(_export(data, out, fmt, "--val-fraction", "0"))
    if fmt == "voc":
        stored = out / "VOCdevkit/VOC2012/JPEGImages/turned.jpg"
        for image, target in VOCSegmentation(str(out), year="2012", image_set="train"):
            assert image.size == target.size
    else:
        doc = json.loads((out / "annotations/instances_train.json").read_text())
        for entry in doc["images"]:
            with Image.open(out / "images" / entry["file_name"]) as image:
                assert image.size == (entry["width"], entry["height"]), entry
        stored = out / "images" / "turned.jpg"
    with Image.open(stored) as image:
        assert image.size == (120, 200)
        assert image.getexif().get(0x0112, 1) == 1
        pixels = np.asarray(image.convert("RGB"), np.int16)
    assert np.abs(pixels - upright).mean() < 4  # upright, as the mask was drawn


def test_include_unlabelled_writes_255_for_images_without_a_mask(demo, tmp_path):
    partial = tmp_path / "partial"
    (partial / "images").mkdir(parents=True)
    for path in sorted((demo / "ground_truth" / "images").glob("*.png"))[:-1]:
        (partial / "images" / path.name).write_bytes(path.read_bytes())
    out = tmp_path / "voc"
    succeeded(
        mcc(
            "export",
            "--data",
            demo,
            "--masks",
            partial,
            "--format",
            "voc",
            "--out",
            out,
            "--include-unlabelled",
            "--val-fraction",
            "0",
        )
    )
    root = out / "VOCdevkit/VOC2012"
    for kind in ("SegmentationClass", "SegmentationObject"):
        unlabelled = read_mask(root / kind / "images__scene_0005.png")
        assert (unlabelled == 255).all(), kind
    assert read_mask(root / "SegmentationClass" / "images__scene_0000.png").max() < 255


@pytest.mark.parametrize("fmt", ["voc", "coco"])
def test_an_image_name_that_is_not_utf8_is_refused(tmp_path, fmt):
    data = tmp_path / "data"
    (data / "cat").mkdir(parents=True)
    (data / "ground_truth" / "cat").mkdir(parents=True)
    Image.new("RGB", (40, 30)).save(data / "cat" / "a.png")
    write_mask(data / "ground_truth" / "cat" / "a.png", np.ones((30, 40), np.uint8))
    raw = os.fsencode(data / "cat")
    Image.new("RGB", (40, 30)).save(os.path.join(raw, b"\xff\xfe.png"), format="PNG")
    write_mask(
        os.fsdecode(os.path.join(os.fsencode(data / "ground_truth" / "cat"), b"\xff\xfe.png")),
        np.ones((30, 40), np.uint8),
    )
    out = tmp_path / "out"
    refused(_export(data, out, fmt), "\\xff\\xfe.png", "not UTF-8", "rename")
    assert not out.exists()


def test_an_error_inside_the_export_names_the_users_path(tmp_path):
    data = tmp_path / "data"
    deep = data / ("a" * 130)
    deep.mkdir(parents=True)
    (data / "ground_truth" / ("a" * 130)).mkdir(parents=True)
    name = "b" * 130  # the flat export name a__b is over 255 bytes: the file system refuses it
    Image.new("RGB", (40, 30)).save(deep / f"{name}.png")
    write_mask(data / "ground_truth" / ("a" * 130) / f"{name}.png", np.ones((30, 40), np.uint8))
    (data / "tags.csv").write_text(f"image,tags\n{'a' * 130}/{name}.png,cat\n")
    out = tmp_path / "coco"
    line = refused(_export(data, out, "coco"), str(out))
    assert ".partial" not in line
    assert not out.exists()
    assert hidden_leftovers(tmp_path) == []


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_exported_files_and_folders_follow_the_umask(demo, tmp_path, umask):
    out = tmp_path / "voc"
    succeeded(_export(demo, out, umask=umask))
    paths = [out, *out.rglob("*")]
    assert len(paths) > 10
    for path in paths:
        assert mode(path) == (0o777 if path.is_dir() else 0o666) & ~umask, path
