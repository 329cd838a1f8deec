"""The uncertainty score: its signals, their combination, and its order on hand-made predictions."""

import numpy as np
import pytest
import torch

from mcc_engine.infer import Prediction, Predictor, head_trained
from tests.engine.tiny import tiny_model


def _prediction(*, confidence=0.95, mask_class=1, rival=None, head=None) -> Prediction:
    """A 20x20 prediction: class `mask_class` in the left half, background in the right half."""
    mask = np.zeros((20, 20), np.uint8)
    mask[:, :10] = mask_class
    return Prediction(
        mask=mask,
        confidence=np.full((20, 20), confidence, np.float32),
        cam_small=np.zeros((3, 20, 20), np.float32),
        rival=mask.copy() if rival is None else rival,
        head=mask.copy() if head is None else head,
    )


def test_confident_and_consistent_below_low_confidence_below_a_missing_tag():
    confident = _prediction(confidence=0.95)
    unsure = _prediction(confidence=0.6)
    missing = _prediction(confidence=0.95, mask_class=0)  # tag 1 is nowhere in the mask
    scores = [p.uncertainty([1]) for p in (confident, unsure, missing)]
    assert scores[0] < scores[1] < scores[2]
    assert scores[0] == pytest.approx(0.05, abs=1e-6)
    assert scores[1] == pytest.approx(0.4, abs=1e-6)
    assert scores[2] == pytest.approx(0.05 + 0.5, abs=1e-6)


def test_disagreement_between_cam_and_head_raises_the_score():
    base = _prediction()
    rival = base.mask.copy()
    rival[:, :5] = 0  # the head calls a quarter of the image background where the CAM says 1
    split = _prediction(rival=rival)
    signals = split.signals([1])
    assert signals["disagreement"] == pytest.approx(0.25)
    assert split.uncertainty([1]) == pytest.approx(base.uncertainty([1]) + 0.25)


def test_a_class_the_tags_do_not_name_raises_the_score():
    head = np.zeros((20, 20), np.uint8)
    head[:, :10] = 1
    head[:4] = 2  # the free head sees class 2, which is not tagged, on a fifth of the image
    stray = _prediction(head=head)
    assert stray.signals([1])["unnamed"] == pytest.approx(0.2)
    assert stray.uncertainty([1]) > _prediction().uncertainty([1])
    # A mask class outside the tags counts too (e.g. a mask from elsewhere).
    assert _prediction(mask_class=3).signals([1])["unnamed"] == pytest.approx(0.5)
    # Unlabelled pixels (255) are never a stray class.
    assert _prediction(mask_class=255).signals([1])["unnamed"] == 0.0


def test_without_a_trained_head_only_the_mask_signals_count():
    p = _prediction()
    p.rival, p.head = None, None
    assert p.signals([1])["disagreement"] == 0.0
    assert p.uncertainty([1]) == pytest.approx(0.05, abs=1e-6)


def test_missing_counts_per_tag():
    p = _prediction(confidence=1.0)
    assert p.signals([1, 2])["missing"] == 0.5
    assert p.uncertainty([1, 2]) == pytest.approx(0.25)


def test_head_trained_follows_the_run_settings():
    run = {"train_config": {"iters": 100}, "method_config": {}}
    assert not head_trained({**run, "step": 11})  # the seg loss weighs from iteration 11 (> 10)
    assert head_trained({**run, "step": 12})
    warm = {"train_config": {"iters": 100}, "method_config": {"cam_warmup_fraction": 0.5}}
    assert not head_trained({**warm, "step": 50})  # the CAM warm-up trains no seg head
    assert head_trained({**warm, "step": 51})
    assert not head_trained({**run, "method_config": {"w_seg": 0.0}, "step": 100})
    assert not head_trained({"train_config": {"iters": 100, "w_seg": 0.0}, "step": 100})  # old run
    assert head_trained({"train_config": {"iters": 10, "init": "prev.pt"}, "step": 1})
    assert head_trained({"model": {}})  # the authors' files: no run settings, a trained head


@pytest.mark.parametrize("source", ["cam", "seg"])
def test_predictor_fills_the_signals_only_with_a_trained_head(source):
    image = np.random.default_rng(0).integers(0, 255, (30, 44, 3), dtype=np.uint8)
    trained = Predictor(tiny_model(), ["a", "b", "c"], torch.device("cpu"))
    pred = trained.predict(image, [1, 3], source=source, refine="none")
    assert pred.rival.shape == pred.head.shape == pred.mask.shape == (30, 44)
    assert set(np.unique(pred.rival)) <= {0, 1, 3}  # restricted to the tags, like the mask
    young = Predictor(tiny_model(), ["a", "b", "c"], torch.device("cpu"), head_trained=False)
    pred = young.predict(image, [1, 3], source=source, refine="none")
    assert pred.rival is None and pred.head is None
    assert pred.uncertainty([1, 3]) == pytest.approx(pred.signals([1, 3])["low_confidence"]
                                                     + 0.5 * pred.signals([1, 3])["missing"])  # fmt: skip
