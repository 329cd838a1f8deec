"""`mcc eval` scores only what is right: 255 in a prediction is a miss, class lists are checked."""

from __future__ import annotations

import json

import numpy as np

from mcc_engine.data.masks import write_mask
from tests.engine.cli_run import mcc, refused, succeeded


def _truth_and_prediction(tmp_path, prediction_value: int):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    truth = np.zeros((20, 30), np.uint8)
    truth[5:15, 5:20] = 2
    truth[0, :] = 255  # unlabelled in the truth: left out
    write_mask(gt / "a.png", truth)
    write_mask(pred / "a.png", np.full((20, 30), prediction_value, np.uint8))
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    return gt, pred, int((truth != 255).sum())


def test_a_prediction_of_255_is_a_miss_for_every_true_class(tmp_path):
    gt, pred, labelled = _truth_and_prediction(tmp_path, 255)
    done = mcc("eval", "--pred", pred, "--gt", gt, "--classes", tmp_path / "classes.txt")
    table = succeeded(done).strip().splitlines()
    assert table[-1] == "mIoU 0.0000"
    assert f"{labelled} predicted pixels are 255" in done.stderr
    data = json.loads(succeeded(mcc("eval", "--pred", pred, "--gt", gt, "--json")))
    assert data["miou"] == 0.0
    assert data["unlabelled_pixels"] == labelled


def test_a_right_prediction_still_scores_one(tmp_path):
    gt, pred, _ = _truth_and_prediction(tmp_path, 0)
    truth_file = next(gt.glob("*.png"))
    (pred / "a.png").write_bytes(truth_file.read_bytes())
    done = mcc("eval", "--pred", pred, "--gt", gt, "--classes", tmp_path / "classes.txt")
    assert succeeded(done).strip().splitlines()[-1] == "mIoU 1.0000"
    assert done.stderr == ""


def test_a_class_list_shorter_than_the_masks_is_refused_in_one_line(tmp_path):
    gt, pred, _ = _truth_and_prediction(tmp_path, 0)
    (tmp_path / "one.txt").write_text("cat\n")
    refused(
        mcc("eval", "--pred", pred, "--gt", gt, "--classes", tmp_path / "one.txt"),
        "a.png",
        "class 2",
        "one.txt",
    )
