"""Inference paths: the authors' (flip sums, max over scales, CAM threshold 0.5) and ours, the
size the network sees, and the threads a proposal runs on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mcc_engine.errors import InputError
from mcc_engine.infer import CAM_SCALES, Predictor, check_method
from mcc_engine.method.authors_inference import authors_cam, authors_seg
from mcc_engine.method.cam import cam_to_mask, multiscale_cams, normalise_cam
from tests.engine.tiny import tiny_model


@pytest.fixture(scope="module")
def model():
    return tiny_model(num_classes=3, seed=4).eval()


def _inputs(height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(seed))


def test_seg_returns_the_arrays_of_the_golden_file(model):
    out = authors_seg(model, _inputs(40, 56))
    assert out.seg_per_scale.shape == (3, 1, 4, 40, 56)
    assert out.seg_logits.shape == (1, 4, 40, 56)
    assert out.seg_pred.shape == (1, 40, 56) and out.seg_pred.dtype == torch.int64


def test_seg_per_scale_is_the_sum_of_image_and_flipped_back_flip(model):
    x = _inputs(48, 64, seed=1)
    out = authors_seg(model, x)
    for i, scale in enumerate((1.0, 1.5, 1.25)):
        xs = F.interpolate(x, size=(int(48 * scale), int(64 * scale)), mode="bilinear")
        xs = xs[..., : xs.shape[-2] // 8 * 8, :]  # 60 rows at 1.25: the patch conv reads 56
        plain = F.interpolate(model.seg_logits(xs), size=(48, 64), mode="bilinear")
        turned = F.interpolate(model.seg_logits(xs.flip(-1)), size=(48, 64), mode="bilinear")
        torch.testing.assert_close(out.seg_per_scale[i], plain + turned.flip(-1))


def test_seg_takes_the_max_over_scales_then_the_argmax(model):
    out = authors_seg(model, _inputs(48, 64, seed=2))
    torch.testing.assert_close(out.seg_logits, out.seg_per_scale.max(dim=0).values)
    assert (out.seg_logits >= out.seg_per_scale).all()
    assert not torch.allclose(out.seg_logits, out.seg_per_scale.mean(dim=0))  # not our average
    assert torch.equal(out.seg_pred, out.seg_logits.argmax(dim=1))


def test_seg_of_a_mirrored_image_is_the_mirrored_seg(model):
    # 64 x 64 keeps every scaled side (64, 96, 80) a multiple of the patch, so flips commute.
    x = _inputs(64, 64, seed=3)
    a, b = authors_seg(model, x), authors_seg(model, x.flip(-1))
    torch.testing.assert_close(b.seg_per_scale, a.seg_per_scale.flip(-1), atol=1e-4, rtol=1e-4)


def test_multi_scale_cam_at_one_scale_is_the_normalised_max_of_image_and_flip(model):
    x = _inputs(32, 48, seed=5)
    cam, cam_aux = multiscale_cams(model, x, scales=(1.0,))
    for got, aux in ((cam, False), (cam_aux, True)):
        raw = F.interpolate(model.cam(x, aux=aux), size=(32, 48), mode="bilinear")
        raw_flip = F.interpolate(model.cam(x.flip(-1), aux=aux), size=(32, 48), mode="bilinear")
        want = normalise_cam(F.relu(torch.maximum(raw, raw_flip.flip(-1))))
        torch.testing.assert_close(got, want)
        assert float(got.min()) == 0.0 and float(got.amax(dim=(2, 3)).min()) > 0.999


def test_cam_label_is_background_at_or_below_one_half_and_ignores_untagged_classes():
    cam = torch.zeros(1, 3, 1, 4)
    cam[0, :, 0, 0] = torch.tensor([0.9, 0.95, 0.2])  # class 2 is higher but untagged
    cam[0, :, 0, 1] = torch.tensor([0.5, 0.0, 0.3])  # exactly 0.5: background
    cam[0, :, 0, 2] = torch.tensor([0.2, 0.1, 0.51])
    cam[0, :, 0, 3] = torch.tensor([0.1, 0.9, 0.1])  # only an untagged class is high
    tags = torch.tensor([[1.0, 0.0, 1.0]])
    assert cam_to_mask(cam, tags, background=0.5).tolist() == [[[1, 0, 3, 0]]]


def test_authors_cam_resizes_to_a_square_and_back(model):
    x = _inputs(30, 50, seed=7)
    tags = torch.tensor([[1.0, 0.0, 1.0]])
    out = authors_cam(model, x, tags, size=64)
    assert out.cam.shape == out.cam_aux.shape == (1, 3, 30, 50)
    assert out.cam_label.shape == out.cam_aux_label.shape == (1, 30, 50)
    assert set(out.cam_label.unique().tolist()) <= {0, 1, 3}
    square = F.interpolate(x, size=(64, 64), mode="bilinear")
    cam, _ = multiscale_cams(model, square)
    torch.testing.assert_close(out.cam, F.interpolate(cam, size=(30, 50), mode="bilinear"))


def test_our_cam_is_the_training_cam_and_our_head_the_mean_over_scales_and_flips(model):
    predictor = Predictor(model, ["a", "b", "c"], torch.device("cpu"), crop=32)
    x = _inputs(48, 64, seed=8)
    cam, head = predictor._cams_and_head(x, (1.0, 1.25, 1.5))
    torch.testing.assert_close(cam, multiscale_cams(model, x, scales=CAM_SCALES)[0])
    pairs = []
    for size in ((48, 64), (64, 80), (72, 96)):  # scales 1, 1.25, 1.5 on patch multiples
        xs = F.interpolate(x, size=size, mode="bilinear")
        plain = F.interpolate(model.seg_logits(xs), size=(48, 64), mode="bilinear")
        turned = F.interpolate(model.seg_logits(xs.flip(-1)), size=(48, 64), mode="bilinear")
        pairs += [plain, turned.flip(-1)]
    torch.testing.assert_close(head, torch.stack(pairs).mean(dim=0))


def _spy_sizes(predictor: Predictor) -> list:
    seen = []
    encode = predictor.model.encode

    def recording(x):
        seen.append((tuple(x.shape[-2:]), torch.get_num_threads()))
        return encode(x)

    predictor.model.encode = recording
    return seen


def test_the_network_sees_two_and_a_half_training_crops_unless_told_otherwise(model):
    image = np.random.default_rng(0).integers(0, 255, (384, 512, 3), dtype=np.uint8)
    predictor = Predictor(model, ["a", "b", "c"], torch.device("cpu"), crop=32)
    seen = _spy_sizes(predictor)
    pred = predictor.predict(image, [1], refine="none")
    assert pred.mask.shape == (384, 512)
    assert seen[0][0] == (64, 80)  # longer side 2.5 x 32; 60 rows round to a multiple of 8
    sized = Predictor(model, ["a", "b", "c"], torch.device("cpu"), crop=32, side=128)
    seen = _spy_sizes(sized)
    sized.predict(image, [1], refine="none")
    assert seen[0][0] == (96, 128)


def test_small_proposals_run_on_one_thread_and_restore_the_setting(model):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        predictor = Predictor(model, ["a", "b", "c"], torch.device("cpu"), crop=32)
        seen = _spy_sizes(predictor)
        predictor.predict(np.zeros((100, 120, 3), np.uint8), [2], refine="none")
        assert {threads for _, threads in seen} == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("source", ["cam", "seg"])
def test_the_authors_method_through_the_predictor(model, source):
    image = np.random.default_rng(1).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    predictor = Predictor(model, ["a", "b", "c"], torch.device("cpu"), crop=32)
    pred = predictor.predict(image, [1, 3], source=source, method="authors")
    assert pred.mask.shape == pred.confidence.shape == (60, 80)
    assert pred.cam.shape == (3, 60, 80)
    if source == "cam":
        assert set(np.unique(pred.mask).tolist()) <= {0, 1, 3}


def test_mixing_the_authors_method_with_our_refinements_is_refused():
    assert check_method(method="ours", source="cam", refine=None) == "par"
    assert check_method(method="authors", source="seg", refine=None) == "none"
    assert check_method(method="authors", source="seg", refine="crf") == "crf"
    for source, refine in (("cam", "par"), ("seg", "par"), ("cam", "crf")):
        with pytest.raises(InputError, match="authors"):
            check_method(method="authors", source=source, refine=refine)


def test_the_authors_crf_pulls_a_blurred_map_to_the_image_edge():
    pytest.importorskip("pydensecrf")
    from mcc_engine.method.dense_crf import AUTHORS_CRF, OURS_CRF, dense_crf

    image = np.zeros((40, 60, 3), np.uint8)
    image[:, 24:] = (230, 200, 40)  # the edge is at column 24
    column = np.arange(60, dtype=np.float32)
    foreground = 1 / (1 + np.exp(-(column - 30) / 4))  # the map's edge is soft, at column 30
    probs = np.stack([1 - foreground, foreground])[:, None, :].repeat(40, axis=1)
    truth = column >= 24
    before = float(((probs[1] > 0.5) != truth[None]).mean())
    refined = dense_crf(image, probs, AUTHORS_CRF)
    assert refined.shape == probs.shape
    assert float(((refined[1] > refined[0]) != truth[None]).mean()) < before / 2
    assert not np.allclose(refined, dense_crf(image, probs, OURS_CRF))  # other settings


def test_the_authors_seg_path_with_their_crf_through_the_predictor(model):
    pytest.importorskip("pydensecrf")
    image = np.random.default_rng(2).integers(0, 255, (40, 48, 3), dtype=np.uint8)
    predictor = Predictor(model, ["a", "b", "c"], torch.device("cpu"), crop=32)
    pred = predictor.predict(image, [2], source="seg", method="authors", refine="crf")
    assert pred.mask.shape == (40, 48) and pred.mask.max() <= 3


def test_our_cams_are_resized_to_the_image_only_when_asked(model):
    image = np.random.default_rng(2).integers(0, 255, (60, 200, 3), dtype=np.uint8)
    predictor = Predictor(model, ["a", "b", "c"], torch.device("cpu"), crop=32)
    pred = predictor.predict(image, [2])
    assert pred.cam_small.shape == (3, 24, 80)  # the network saw 2.5 crops on the longer side
    assert "cam" not in vars(pred)  # nothing resized yet
    expected = F.interpolate(
        torch.from_numpy(pred.cam_small)[None], size=(60, 200), mode="bilinear"
    )[0].numpy()
    np.testing.assert_allclose(pred.cam, expected, atol=1e-6)
    assert pred.cam is pred.cam  # resized once
