"""The interactive tools' parts: edge-aware filter, cues, upsampling, colour wand, NoC protocol."""

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcc_engine.interactive import ProposeSettings, colour_wand, image_evidence
from mcc_engine.interactive.cues import isotonic, prob_logit, ratio_logit
from mcc_engine.interactive.propose import click_cues
from mcc_engine.interactive.protocol import brush_stroke, iou, next_click, noc, objects
from mcc_engine.interactive.smooth import edge_filter
from mcc_engine.interactive.upsample import to_full
from tests.engine.scenes import centre_of, ellipse_scene


def _direct_filter(values, lab, *, sigma_space, sigma_range, iterations):
    """The domain transform's recursive filter written pixel by pixel (Gastal and Oliveira)."""
    img = lab.astype(np.float64)
    out = values.astype(np.float64).copy()
    h, w = values.shape
    sigma_s = max(1.0, sigma_space * max(h, w))
    for i in range(iterations):
        sigma = sigma_s * math.sqrt(3) * 2 ** (iterations - i - 1) / math.sqrt(4**iterations - 1)
        a = math.exp(-math.sqrt(2) / sigma)
        for y in range(h):  # along x
            for x in range(1, w):
                d = 1 + sigma_s / sigma_range * np.abs(img[y, x] - img[y, x - 1]).sum()
                out[y, x] += a**d * (out[y, x - 1] - out[y, x])
            for x in range(w - 2, -1, -1):
                d = 1 + sigma_s / sigma_range * np.abs(img[y, x + 1] - img[y, x]).sum()
                out[y, x] += a**d * (out[y, x + 1] - out[y, x])
        for x in range(w):  # along y
            for y in range(1, h):
                d = 1 + sigma_s / sigma_range * np.abs(img[y, x] - img[y - 1, x]).sum()
                out[y, x] += a**d * (out[y - 1, x] - out[y, x])
            for y in range(h - 2, -1, -1):
                d = 1 + sigma_s / sigma_range * np.abs(img[y + 1, x] - img[y, x]).sum()
                out[y, x] += a**d * (out[y + 1, x] - out[y, x])
    return out


def test_the_edge_filter_equals_its_direct_formulation():
    rng = np.random.default_rng(0)
    lab = rng.integers(0, 256, (9, 13, 3)).astype(np.uint8)
    values = rng.normal(size=(9, 13)).astype(np.float32)
    fast = edge_filter(lab, sigma_space=0.3, sigma_range=40.0, iterations=2, denoise=0)
    direct = _direct_filter(values, lab, sigma_space=0.3, sigma_range=40.0, iterations=2)
    assert np.allclose(fast(values), direct, atol=1e-4)
    stack = np.stack([values, 2 * values], axis=-1)
    assert np.allclose(fast(stack)[..., 1], 2 * fast(values), atol=1e-5)


def test_the_edge_filter_spreads_within_a_region_not_across_an_edge():
    lab = np.zeros((20, 40, 3), np.uint8)
    lab[:, 20:] = 200
    values = np.zeros((20, 40), np.float32)
    values[10, 5] = 1.0
    out = edge_filter(lab, sigma_space=0.5)(values)
    assert out[10, 15] > 100 * abs(out[10, 25])
    assert np.allclose(edge_filter(lab)(np.full((20, 40), 3.0)), 3.0, atol=1e-5)


def test_isotonic_is_the_pooled_non_decreasing_fit():
    fit = isotonic(np.array([1.0, 3.0, 2.0, 4.0]), weights=np.array([1.0, 1.0, 1.0, 1.0]))
    assert np.allclose(fit, [1.0, 2.5, 2.5, 4.0])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_the_model_cue_never_reads_the_model_backwards(seed):
    rng = np.random.default_rng(seed)
    prob = rng.random((30, 40)).astype(np.float32)
    fg = rng.random((30, 40)) < 0.2
    cue = prob_logit(prob, fg=fg, bg=~fg)
    order = np.argsort(prob.ravel())
    assert np.all(np.diff(cue.ravel()[order]) >= -1e-6)


def test_a_negative_click_does_not_make_unclicked_shades_foreground():
    # Shade 0: the object, sampled with a stray pixel each of shades 1 and 2; shade 1: where the
    # negative click fell; shade 2: the rest of the background, never clicked. Against the whole
    # background, shade 2 stays background; the clicked shade becomes background.
    bins = np.full((40, 50), 2, np.int32)
    bins[:5, :4] = 0
    bins[0, 0], bins[0, 1] = 2, 1
    bins[30:34, 40:44] = 1
    fg = np.zeros(bins.shape, bool)
    fg[:5, :4] = True
    clicked = np.zeros(bins.shape, bool)
    clicked[30:34, 40:44] = True
    bg = ~fg | clicked
    alone = ratio_logit(bins, fg=fg, bg=bg, dims=(3,), spread=False)
    with_click = ratio_logit(bins, fg=fg, bg=bg, clicked=clicked, dims=(3,), spread=False)
    assert with_click[2, 2] > 0 and with_click[1, 5] < 0  # the object's shade; shade 2
    # Averaging log P(fg) / P(bg) with log P(fg) / P(clicked), as before, gave shade 2 +1.5.
    assert with_click[1, 5] == pytest.approx(alone[1, 5] + np.log(2), abs=1e-4)
    assert with_click[31, 41] < 0 < alone[31, 41]  # the clicked shade: rare, until clicked


def test_the_clicks_vote_against_the_frame_until_a_negative_click():
    image, obj = ellipse_scene(0)
    ev = image_evidence(image)
    settings = ProposeSettings(w_features=0)
    x, y = centre_of(obj)
    cue = click_cues(ev, positives=[(x, y)], negatives=[], settings=settings)
    assert cue[y, x] > 0
    assert cue[0, 0] < 0 and cue[-1, -1] < 0  # the frame, far from the click
    assert cue[obj].mean() > 0 > cue[~obj].mean()


def test_the_previous_proposal_stands_where_the_latest_click_does_not_reach():
    image, obj = ellipse_scene(1)
    ev = image_evidence(image)
    settings = ProposeSettings(w_features=0)
    x, y = centre_of(obj)
    previous = np.zeros(obj.shape, bool)
    previous[:, : obj.shape[1] // 3] = True  # any proposal: its say is all this cue adds
    kwargs = dict(positives=[(x, y)], negatives=[], settings=settings)
    base = click_cues(ev, **kwargs)
    stay = click_cues(ev, previous=previous, latest=(x, y), **kwargs) - base
    far = (0, 0), (obj.shape[1] - 1, obj.shape[0] - 1)  # in and out of the previous proposal
    assert stay[far[0][1], far[0][0]] == pytest.approx(settings.w_previous, abs=0.05)
    assert stay[far[1][1], far[1][0]] == pytest.approx(-settings.w_previous, abs=0.05)
    assert abs(stay[y, x]) < 0.2 * settings.w_previous  # at the click, the click speaks


def test_upsampling_puts_the_border_on_the_image_edges():
    small, obj = ellipse_scene(4)
    image = np.kron(small, np.ones((4, 4, 1), np.uint8))
    truth = np.kron(obj, np.ones((4, 4), bool))
    ev = image_evidence(image, side=120)
    work = cv2.resize(obj.astype(np.uint8), ev.work_shape[::-1], interpolation=cv2.INTER_AREA) > 0
    size = truth.shape[::-1]
    plain = cv2.resize(work.astype(np.float32), size, interpolation=cv2.INTER_LINEAR) > 0.5
    full = to_full(ev, work)
    assert full.shape == truth.shape
    assert iou(full, truth) > max(0.98, iou(plain, truth))
    assert np.array_equal(to_full(ev, np.zeros(ev.work_shape, bool)), np.zeros_like(truth))


def test_the_wand_respects_its_tolerance():
    image = np.full((30, 60, 3), 100, np.uint8)
    image[:, 20:40] = (120, 100, 100)  # a neighbour 20 away in red
    image[:, 50:] = 100  # the seed's colour again, beyond the neighbour
    image[:, 40:50] = 250  # a wall
    narrow = colour_wand(image, (5, 5), tolerance=10)
    assert narrow[:, :20].all() and not narrow[:, 20:].any()
    wide = colour_wand(image, (5, 5), tolerance=30)
    assert wide[:, :40].all() and not wide[:, 40:].any()  # connected only
    assert not colour_wand(image, (99, 5)).any()  # off the image


def test_the_wand_range_is_fixed_at_the_seed_colour():
    ramp = np.repeat(np.arange(0, 200, 2, dtype=np.uint8)[None, :, None], 10, axis=0)
    image = np.repeat(ramp, 3, axis=2)  # each pixel 2 from its neighbour
    region = colour_wand(image, (0, 5), tolerance=10)
    assert region[:, :6].all() and not region[:, 6:].any()


def test_objects_are_connected_regions_of_one_class():
    truth = np.zeros((20, 20), np.uint8)
    truth[2:6, 2:6] = 1
    truth[10:15, 10:15] = 1
    truth[2:6, 12:18] = 2
    truth[18:, :] = 255
    found = [(cls, int(mask.sum())) for cls, mask in objects(truth)]
    assert sorted(found) == [(1, 16), (1, 25), (2, 24)]


def test_the_next_click_is_deepest_in_the_largest_error():
    truth = np.zeros((40, 40), bool)
    truth[5:16, 5:16] = True  # 11 x 11, centre (10, 10)
    pred = np.zeros_like(truth)
    assert next_click(pred, truth) == (10, 10, True)
    pred = truth.copy()
    pred[20:39, 20:39] = True  # a larger false area, centre (29, 29)
    assert next_click(pred, truth) == (29, 29, False)
    ignore = np.zeros_like(truth)
    ignore[20:39, 20:39] = True
    assert next_click(pred, truth, ignore=ignore) is None


def test_noc_counts_the_budget_when_never_reached():
    assert noc([0.5, 0.86, 0.95], 0.85, budget=20) == 2
    assert noc([0.5, 0.86, 0.95], 0.9, budget=20) == 3
    assert noc([0.5, 0.6], 0.9, budget=20) == 20


def test_a_brush_stroke_paints_along_the_error():
    truth = np.zeros((40, 80), bool)
    truth[14:26, 5:75] = True  # a bar 12 high
    pred = np.zeros_like(truth)
    assert brush_stroke(pred, truth, size=12)
    assert iou(pred, truth) > 0.8
    done = truth.copy()
    assert not brush_stroke(done, truth)


@pytest.mark.parametrize(
    "image", [np.zeros((5, 7, 3), np.float32), np.zeros((4, 4), np.uint8)], ids=["float", "grey"]
)
def test_image_evidence_refuses_what_is_not_an_rgb_image(image):
    with pytest.raises(ValueError, match="RGB uint8"):
        image_evidence(image)
