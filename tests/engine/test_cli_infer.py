"""`mcc infer` as a user runs it: the mask folder is replaced whole at the end, or left as it was.

The guarantee (README, "bad input"): --out, --confidence and --scores are each written beside
their destination and swapped in only when every image is done; a bad input, a failure or a kill
at any moment leaves each destination as it was (or absent), and the next run removes what a
killed one left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mcc_engine.data.masks import read_mask, write_mask
from tests.engine.cli_run import (
    ROOT,
    command,
    copy_data,
    environment,
    hidden_leftovers,
    make_checkpoint,
    make_demo,
    mcc,
    mode,
    refused,
    snapshot,
    succeeded,
    truncate,
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("infer")
    demo = make_demo(base / "demo", count=24)
    return demo, make_checkpoint(demo, base / "run")


def _old_masks(data: Path, out: Path, count: int | None = None) -> dict[str, bytes]:
    """Masks of 255 everywhere (no prediction is ever 255), one per image: the 'old' folder."""
    for image in sorted((data / "images").glob("*.jpg"))[:count]:
        with Image.open(image) as opened:
            size = opened.size
        write_mask(out / "images" / f"{image.stem}.png", np.full(size[::-1], 255, np.uint8))
    return snapshot(out)


def _complete(out: Path, data: Path) -> bool:
    """Every image has a new mask of its own size, and nothing else is there."""
    images = sorted((data / "images").glob("*.jpg"))
    masks = sorted(out.rglob("*.png"))
    if [m.stem for m in masks] != [i.stem for i in images]:
        return False
    for image, mask_path in zip(images, masks):
        mask = read_mask(mask_path)
        with Image.open(image) as opened:
            if mask.shape != opened.size[::-1] or (mask == 255).all():
                return False
    return True


def test_a_bad_image_late_in_the_folder_writes_no_mask(setup, tmp_path):
    demo, checkpoint = setup
    data = copy_data(demo, tmp_path / "data")
    truncate(sorted((data / "images").glob("*.jpg"))[-1])
    out = tmp_path / "masks"
    refused(
        mcc("infer", "--checkpoint", checkpoint, "--data", data, "--out", out),
        "scene_0023.jpg",
        "truncated",
    )
    assert not out.exists()
    assert hidden_leftovers(tmp_path) == []


def test_a_bad_image_keeps_an_existing_mask_folder_as_it_was(setup, tmp_path):
    demo, checkpoint = setup
    data = copy_data(demo, tmp_path / "data")
    out, conf = tmp_path / "masks", tmp_path / "conf"
    old = _old_masks(data, out)
    old_conf = _old_masks(data, conf)
    truncate(sorted((data / "images").glob("*.jpg"))[-1])
    refused(
        mcc(
            "infer", "--checkpoint", checkpoint, "--data", data, "--out", out, "--confidence", conf
        ),
        "scene_0023.jpg",
    )
    assert snapshot(out) == old
    assert snapshot(conf) == old_conf
    assert hidden_leftovers(tmp_path) == []


def _written_since(parent: Path, since_ns: int) -> int:
    """PNG files under `parent` (hidden stages included) modified after `since_ns`."""
    count = 0
    for folder, _, files in os.walk(parent):
        for name in files:
            try:
                if name.endswith(".png") and os.stat(Path(folder) / name).st_mtime_ns > since_ns:
                    count += 1
            except FileNotFoundError:  # renamed or removed while we look
                pass
    return count


def test_sigkill_at_random_moments_leaves_the_old_or_the_complete_new_masks(setup, tmp_path):
    demo, checkpoint = setup
    data = copy_data(demo, tmp_path / "data")
    parent = tmp_path / "work"
    parent.mkdir()
    out = parent / "masks"
    old = _old_masks(data, out)
    total = len(list((data / "images").glob("*.jpg")))
    argv = command("infer", "--checkpoint", checkpoint, "--data", data, "--out", out)
    rng = np.random.default_rng(13)
    outcomes = []
    # Kill after a random number of masks were written (0 = before the first, total = between
    # the last mask and the swap), a random number of times.
    for k in [0, total, *rng.integers(1, total, size=5)]:
        since = time.time_ns()
        process = subprocess.Popen(
            argv, cwd=ROOT, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        while process.poll() is None and _written_since(parent, since) < k:
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.wait()
        state = snapshot(out)
        if state == old:
            outcomes.append("old")
        else:
            assert _complete(out, data), f"killed after {k} masks: a mix of old and new"
            outcomes.append("new")
            old = _old_masks(data, out)  # start the next try from an old folder again
    assert "old" in outcomes
    succeeded(mcc("infer", "--checkpoint", checkpoint, "--data", data, "--out", out))
    assert _complete(out, data)
    assert hidden_leftovers(parent) == []  # what the killed runs left, the next run removed


def test_scores_that_cannot_be_written_are_refused_before_any_work(setup, tmp_path):
    demo, checkpoint = setup
    out = tmp_path / "masks"
    scores = tmp_path / "scores.csv"
    scores.mkdir()  # a folder where the file should go
    line = refused(
        mcc("infer", "--checkpoint", checkpoint, "--data", demo, "--out", out, "--scores", scores),
        str(scores),
    )
    assert ".tmp" not in line and ".partial" not in line
    assert not out.exists()
    blocked = tmp_path / "file"
    blocked.write_text("x")
    line = refused(
        mcc(
            "infer",
            "--checkpoint",
            checkpoint,
            "--data",
            demo,
            "--out",
            out,
            "--scores",
            blocked / "s.csv",
        ),
        str(blocked / "s.csv"),
    )
    assert not out.exists()


def test_an_out_folder_that_holds_other_files_is_refused(setup, tmp_path):
    demo, checkpoint = setup
    refused(
        mcc("infer", "--checkpoint", checkpoint, "--data", demo, "--out", demo),
        str(demo),
        "not a mask folder",
    )
    assert (demo / "tags.csv").is_file()
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    refused(mcc("infer", "--checkpoint", checkpoint, "--data", demo, "--out", target), str(target))
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_and_folders_follow_the_umask(setup, tmp_path, umask):
    demo, checkpoint = setup
    out, conf, scores = tmp_path / "masks", tmp_path / "conf", tmp_path / "s.csv"
    succeeded(
        mcc(
            "infer",
            "--checkpoint",
            checkpoint,
            "--data",
            demo,
            "--out",
            out,
            "--confidence",
            conf,
            "--scores",
            scores,
            umask=umask,
        )
    )
    for folder in (out, out / "images", conf, conf / "images"):
        assert mode(folder) == 0o777 & ~umask, folder
    for path in (out / "images" / "scene_0000.png", conf / "images" / "scene_0000.png", scores):
        assert mode(path) == 0o666 & ~umask, path


def test_an_image_name_that_is_not_utf8_is_refused_before_any_mask(setup, tmp_path):
    demo, checkpoint = setup
    data = tmp_path / "data"
    for tag in ("sun", "leaf"):
        (data / tag).mkdir(parents=True)
        Image.new("RGB", (40, 30), (200, 180, 20)).save(data / tag / "a.jpg")
    (data / "classes.txt").write_text((demo / "classes.txt").read_text())
    with open(os.path.join(os.fsencode(data / "leaf"), b"caf\xe9.jpg"), "wb") as handle:
        Image.new("RGB", (40, 30)).save(handle, format="JPEG")
    out = tmp_path / "masks"
    line = refused(
        mcc(
            "infer",
            "--checkpoint",
            checkpoint,
            "--data",
            data,
            "--out",
            out,
            "--scores",
            tmp_path / "s.csv",
        ),
        "caf\\xe9.jpg",
        "rename",
    )
    assert "not UTF-8" in line
    assert not out.exists() and not (tmp_path / "s.csv").exists()


def test_a_folder_whose_images_are_all_untagged_is_refused_in_one_line(setup, tmp_path):
    _, checkpoint = setup
    data = tmp_path / "data"
    data.mkdir()
    for name in ("a.png", "b.png"):
        Image.new("RGB", (40, 30)).save(data / name)
    (data / "tags.csv").write_text("image,tags\na.png,\nb.png,\n")
    refused(
        mcc("train", "--data", data, "--out", tmp_path / "run", "--preset", "tiny"),
        "no image carries a tag",
    )
    assert not (tmp_path / "run").exists()
    refused(
        mcc("infer", "--checkpoint", checkpoint, "--data", data, "--out", tmp_path / "m"),
        "no image carries a tag",
    )
