"""`mcc train` and every numeric option of every command, run as a user runs them."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from PIL import Image

from tests.engine.cli_run import (
    copy_data,
    make_demo,
    mcc,
    mode,
    refused,
    succeeded,
    truncate,
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo(tmp_path_factory.mktemp("train") / "demo", count=6)


@pytest.mark.parametrize("workers", ["0", "1"])
def test_a_bad_image_leaves_no_run_folder_and_one_line(demo, tmp_path, workers):
    data = copy_data(demo, tmp_path / "data")
    truncate(data / "images" / "scene_0003.jpg")
    run = tmp_path / "run"
    refused(
        mcc("train", "--data", data, "--out", run, "--preset", "tiny", "--workers", workers),
        "scene_0003.jpg",
        "truncated",
    )
    assert not run.exists()


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_run_folder_follows_the_umask(demo, tmp_path, umask):
    run = tmp_path / "run"
    succeeded(
        mcc("train", "--data", demo, "--out", run, "--preset", "tiny", "--iters", "1", umask=umask)
    )
    assert mode(run) == 0o777 & ~umask
    for name in ("last.pt", "config.json", "log.csv"):
        assert mode(run / name) == 0o666 & ~umask, name


class _Payload:
    """Unpickling this runs code: it makes the folder `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_a_pickle_that_would_run_code_is_refused_in_one_line(demo, tmp_path):
    marker = tmp_path / "ran"
    with open(tmp_path / "pickle.pt", "wb") as handle:  # a plain pickle: torch warns about it
        pickle.dump({"model": _Payload(marker)}, handle, protocol=4)
    for command in (
        ["train", "--data", demo, "--out", tmp_path / "run", "--preset", "tiny", "--weights"],
        ["infer", "--data", demo, "--out", tmp_path / "m", "--checkpoint"],
    ):
        refused(mcc(*command, tmp_path / "pickle.pt"), "pickle.pt", "loaded safely")
    assert not marker.exists()
    assert not (tmp_path / "run").exists()


# (command and its required arguments, flag, values refused, words of the allowed range)
NUMERIC = [
    ("demo", "--count", ["0", "-3", "nan", "2.5"], "an integer from 1"),
    ("train", "--iters", ["0", "-3", "inf", "x"], "an integer from 1"),
    ("train", "--batch", ["0", "-2", "1e9999"], "an integer from 1"),
    ("train", "--crop", ["0", "-64"], "an integer from 8"),
    ("train", "--lr", ["-1", "0", "nan", "inf", "2"], "a number above 0 up to 1"),
    ("train", "--seed", ["-1", "nan"], "an integer from 0"),
    ("train", "--w-aff", ["-0.1", "nan", "inf"], "a number from 0"),
    ("train", "--w-mcc", ["-1", "nan"], "a number from 0"),
    ("train", "--w-seg", ["-1", "inf"], "a number from 0"),
    ("train", "--w-reg", ["-1", "nan"], "a number from 0"),
    ("train", "--cam-warmup", ["1", "-0.5", "nan"], "a number from 0 to below 1"),
    ("train", "--save-every", ["0", "-1"], "an integer from 1"),
    ("train", "--log-every", ["0", "nan"], "an integer from 1"),
    ("train", "--workers", ["-1", "1.5"], "an integer from 0"),
    ("infer", "--size", ["0", "-32", "nan"], "an integer from 8"),
    ("export", "--val-fraction", ["1", "-0.1", "nan", "inf"], "a number from 0 to below 1"),
]


@pytest.mark.parametrize(
    ("command", "flag", "values", "allowed"), NUMERIC, ids=[f"{c} {f}" for c, f, _, _ in NUMERIC]
)
def test_every_numeric_option_is_checked_before_any_work(
    demo, tmp_path, command, flag, values, allowed
):
    out = tmp_path / "out"
    base = {
        "demo": ["--out", out],
        "train": ["--data", demo, "--out", out, "--preset", "tiny"],
        "infer": ["--checkpoint", tmp_path / "none.pt", "--data", demo, "--out", out],
        "export": [
            "--data",
            demo,
            "--masks",
            demo / "ground_truth",
            "--format",
            "voc",
            "--out",
            out,
        ],
    }[command]
    for value in values:
        line = refused(mcc(command, *base, f"{flag}={value}"), f"mcc {command}", flag, allowed)
        assert value in line
        assert not out.exists()


def test_untagged_images_with_a_class_list_are_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    Image.new("RGB", (40, 30)).save(data / "a.png")
    (data / "tags.csv").write_text("image,tags\na.png,\n")
    (data / "classes.txt").write_text("cat\n")
    refused(
        mcc("train", "--data", data, "--out", tmp_path / "run", "--preset", "tiny"),
        "no image carries a tag",
    )
    assert not (tmp_path / "run").exists()
