"""Click to segment and the box tool on synthetic scenes, with no model and with a tiny one."""

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcc_engine.data.demo import JPEG_QUALITY, render_scene
from mcc_engine.errors import InputError
from mcc_engine.interactive import (
    ClickModel,
    ClickSession,
    image_evidence,
    model_evidence,
)
from mcc_engine.interactive.protocol import next_click, objects
from mcc_engine.model.network import ModelConfig
from tests.engine.scenes import centre_of, ellipse_scene, iou
from tests.engine.tiny import TINY, save_tiny_checkpoint, tiny_model


def _with_neighbour(seed: int):
    """An ellipse and, touching it, a rectangle of nearly its colour that is not part of it."""
    image, obj = ellipse_scene(seed)
    h, _ = obj.shape
    right = int(np.nonzero(obj)[1].max())
    extra = np.zeros_like(obj)
    extra[h // 2 - 12 : h // 2 + 12, right - 3 : right + 27] = True
    extra &= ~obj
    rng = np.random.default_rng(seed)
    shade = np.array([210, 75, 50]) + rng.normal(0, 4, (int(extra.sum()), 3))
    image[extra] = np.clip(shade, 0, 255).astype(np.uint8)
    return image, obj, extra


@pytest.mark.parametrize("seed", range(4))
def test_one_positive_click_finds_the_object_without_a_model(seed):
    image, obj = ellipse_scene(seed)
    session = ClickSession(image_evidence(image))
    region = session.add(*centre_of(obj), positive=True)
    assert region.shape == obj.shape and region.dtype == bool
    assert iou(region, obj) > 0.8


@pytest.mark.parametrize("seed", [2, 4])
def test_a_negative_click_first_does_not_hold_back_the_object(seed):
    # The empty proposal after a lone negative click is no proposal to keep: kept, it held these
    # objects to IoU 0.43 and 0.32.
    image, truth = render_scene(np.random.default_rng(seed))
    cls, obj = next(objects(truth))
    session = ClickSession(image_evidence(image), class_index=cls)
    session.add(2, 2, positive=False)
    assert iou(session.add(*centre_of(obj), positive=True), obj) > 0.9


def test_no_click_no_region():
    image, _ = ellipse_scene(0)
    assert not ClickSession(image_evidence(image)).mask().any()


@pytest.mark.parametrize("seed", range(3))
def test_a_negative_click_removes_a_wrongly_included_area(seed):
    image, obj, extra = _with_neighbour(seed)
    session = ClickSession(image_evidence(image))
    first = session.add(*centre_of(obj), positive=True)
    assert (first & extra).mean() / extra.mean() > 0.5  # the near-colour neighbour leaked in
    second = session.add(*centre_of(extra), positive=False)
    assert (second & extra).sum() < 0.1 * extra.sum()
    assert iou(second, obj) > 0.8


def test_undo_returns_the_earlier_proposal_exactly():
    image, obj, extra = _with_neighbour(0)
    session = ClickSession(image_evidence(image))
    first = session.add(*centre_of(obj), positive=True)
    session.add(*centre_of(extra), positive=False)
    assert np.array_equal(session.undo(), first)
    assert len(session.clicks) == 1
    assert not session.undo().any()


def test_a_large_image_is_worked_small_and_answered_at_full_size():
    small, obj = ellipse_scene(1)
    image = np.kron(small, np.ones((6, 6, 1), np.uint8))  # 720 x 960
    truth = np.kron(obj, np.ones((6, 6), bool))
    ev = image_evidence(image)
    assert max(ev.work_shape) == 320
    region = ClickSession(ev).add(*centre_of(truth), positive=True)
    assert region.shape == truth.shape
    assert iou(region, truth) > 0.8


def test_box_gives_a_region_inside_the_box():
    image, obj = ellipse_scene(2)
    ys, xs = np.nonzero(obj)
    box = (int(xs.min()) - 4, int(ys.min()) - 4, int(xs.max()) + 4, int(ys.max()) + 4)
    region = ClickSession(image_evidence(image), box=box).mask()
    inside = np.zeros_like(obj)
    inside[box[1] : box[3] + 1, box[0] : box[2] + 1] = True
    assert region.any() and not (region & ~inside).any()
    assert iou(region, obj) > 0.8


def test_a_box_then_clicks_stays_in_the_box_until_a_positive_click_outside():
    image, obj = ellipse_scene(3)
    ys, xs = np.nonzero(obj)
    box = (int(xs.min()), int(ys.min()), int(xs.mean()), int(ys.max()))  # the left half only
    session = ClickSession(image_evidence(image), box=box)
    inside = np.zeros_like(obj)
    inside[box[1] : box[3] + 1, box[0] : box[2] + 1] = True
    assert not (session.add(*centre_of(obj & inside), positive=True) & ~inside).any()
    widened = session.add(*centre_of(obj & ~inside), positive=True)
    assert (widened & ~inside).sum() > 0.5 * (obj & ~inside).sum()


def _evidence_with_tiny_model(image, *, source="cam"):
    net = ClickModel(tiny_model(num_classes=3).eval(), ["a", "b", "c"])
    return model_evidence(net, image, labels=[2], source=source)


@pytest.mark.parametrize("source", ["cam", "seg"])
def test_the_model_evidence_path_runs(source):
    image, obj = ellipse_scene(0)
    ev = _evidence_with_tiny_model(image, source=source)
    assert ev.probs.shape == (4, *ev.work_shape)
    assert np.allclose(ev.probs.sum(axis=0), 1.0, atol=1e-4)
    assert np.allclose(ev.probs[[1, 3]], 0.0)  # classes the tags leave out
    assert np.allclose(np.linalg.norm(ev.tokens, axis=0), 1.0, atol=1e-4)
    region = ClickSession(ev, class_index=2).add(*centre_of(obj), positive=True)
    assert iou(region, obj) > 0.8


def test_a_checkpoint_loads_for_the_tools(tmp_path):
    model = tiny_model(num_classes=3)
    path = tmp_path / "last.pt"
    config = ModelConfig(num_classes=3, **TINY).to_dict()
    torch.save(
        {"model": model.state_dict(), "model_config": config, "classes": ["a", "b", "c"]}, path
    )
    net = ClickModel.from_checkpoint(path)
    assert net.classes == ["a", "b", "c"] and net.head_trained
    assert net.side == round(2.5 * config["img_size"])  # the Predictor's scale: 2.5 crops
    save_tiny_checkpoint(path, model, ["a", "b", "c"], crop=32)
    net = ClickModel.from_checkpoint(path)
    assert net.side == 80
    seen = []
    net.model.encode = lambda x, encode=net.model.encode: seen.append(x.shape) or encode(x)
    model_evidence(net, np.zeros((300, 600, 3), np.uint8))
    assert seen[0][-2:] == (40, 80)  # 80 px on the long side, sides multiples of the patch
    torch.save({"weights": {}}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not an MCC Annotate checkpoint"):
        ClickModel.from_checkpoint(tmp_path / "other.pt")


_SCENE = ellipse_scene(5, size=(60, 80))
_EVIDENCE = image_evidence(_SCENE[0])
_MODEL_EVIDENCE = _evidence_with_tiny_model(_SCENE[0])

clicks = st.lists(
    st.tuples(st.integers(0, 79), st.integers(0, 59), st.booleans()), min_size=1, max_size=6
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clicks=clicks, with_model=st.booleans(), box=st.booleans())
def test_the_proposal_obeys_every_click_the_later_one_deciding(clicks, with_model, box):
    ev = _MODEL_EVIDENCE if with_model else _EVIDENCE
    session = ClickSession(ev, class_index=2, box=(10, 5, 60, 50) if box else None)
    region = None
    for x, y, positive in clicks:
        region = session.add(x, y, positive=positive)
    last = {}
    for x, y, positive in clicks:
        last[(x, y)] = positive
    for (x, y), positive in last.items():
        assert region[y, x] == positive


def test_the_same_clicks_give_the_same_proposal():
    # A demo scene on which GrabCut's k-means start, left to OpenCV's random state, varies.
    image, truth = render_scene(np.random.default_rng(2))
    ev = image_evidence(image)
    click = centre_of(truth == truth.max())
    box = (0, 0, image.shape[1] // 2, image.shape[0] - 1)
    first = ClickSession(ev).add(*click, positive=True), ClickSession(ev, box=box).mask()
    for seed in range(4):  # OpenCV's global random state differs each time
        cv2.setRNGSeed(seed)
        assert np.array_equal(ClickSession(ev).add(*click, positive=True), first[0])
        assert np.array_equal(ClickSession(ev, box=box).mask(), first[1])


def _as_jpeg(image: np.ndarray) -> np.ndarray:
    """The image after a JPEG round trip at the demo data's quality (its artefacts included)."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def test_a_correcting_click_does_not_throw_away_a_good_mask():
    # The protocol's annotator clicks on into the small errors left once a mask reaches IoU 0.9.
    # Each such click should correct the border near it, not swap in a different cut: before the
    # previous proposal counted where a click does not reach, 4 of these 25 objects fell below
    # 0.8 within three clicks (a negative click elsewhere, say, made a whole background band
    # look like the object). On demo scenes 0-29, 15 of 64 objects then, 6 now.
    fell = []
    for seed in range(12):
        image, truth_all = render_scene(np.random.default_rng(seed))
        ev = image_evidence(_as_jpeg(image))
        for cls, truth in objects(truth_all):
            session = ClickSession(ev, class_index=cls)
            pred, reached, after = np.zeros_like(truth), None, []
            for i in range(8):
                click = next_click(pred, truth)
                if click is None:
                    break
                pred = session.add(click[0], click[1], positive=click[2])
                if reached is not None:
                    after.append(iou(pred, truth))
                elif iou(pred, truth) >= 0.9:
                    reached = i
                if len(after) == 3:
                    break
            if after and min(after) < 0.8:
                fell.append((seed, cls, [round(v, 2) for v in after]))
    assert len(fell) <= 1, fell
