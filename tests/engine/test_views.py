"""Training views: the authors' operations, the box of real pixels, masks that follow the image."""

import dataclasses

import numpy as np

from mcc_engine.data.demo import write_demo
from mcc_engine.data.folder import load_data_folder
from mcc_engine.data.views import ViewConfig, make_views

MEAN = np.array([0.5, 0.5, 0.5], np.float32)
STD = np.array([0.25, 0.25, 0.25], np.float32)
# Photometric changes off, so real pixels and black padding can be told apart in the views.
PLAIN = ViewConfig(
    crop=48,
    jitter_p=0.0,
    grey_p=0.0,
    blur_main_p=0.0,
    blur_local_p=0.0,
    blur_global_p=0.0,
    solarize_p=0.0,
)


def _image():
    image = np.zeros((20, 30, 3), np.uint8)
    image[...] = (200, 100, 50)
    mask = np.zeros((20, 30), np.uint8)
    mask[:, 15:] = 1  # the right half is class 1: the mask must follow flips
    image[:, 15:] = (60, 220, 90)
    return image, mask


def _real(view):
    """Pixels that are not black padding (black normalises to -mean / std)."""
    return (np.abs(view - (-MEAN / STD)[:, None, None]) > 1e-4).any(axis=0)


def _box_area(box, size=48):
    y0, x0, y1, x1 = box
    inside = np.zeros((size, size), bool)
    inside[y0:y1, x0:x1] = True
    return inside


def test_the_box_holds_exactly_the_real_pixels_and_the_mask_follows_them():
    image, mask = _image()
    cfg = dataclasses.replace(PLAIN, quirk_box_unflipped=False, quirk_local_flip=False)
    for seed in range(12):
        views = make_views(
            image, mask, cfg=cfg, mean=MEAN, std=STD, rng=np.random.default_rng(seed)
        )
        real = _real(views["image"])
        np.testing.assert_array_equal(real, _box_area(views["box"]))
        # without its own flip, the local source is the main view's pixels
        np.testing.assert_array_equal(views["local"], views["image"])
        green = views["image"][1] > views["image"][0]  # class 1 is the green half
        labelled = views["mask"] != 255
        np.testing.assert_array_equal(labelled, real)
        # bilinear resizing blends the colours along the class edge, the mask (nearest) does not
        agree = (views["mask"][labelled] == 1) == green[labelled]
        assert agree.mean() > 0.95


def test_the_authors_box_is_not_mirrored_with_the_main_views_flip():
    image, mask = _image()
    cfg = PLAIN  # the quirks on, as in the authors' code and the paper preset
    mismatched = 0
    for seed in range(24):
        views = make_views(
            image, mask, cfg=cfg, mean=MEAN, std=STD, rng=np.random.default_rng(seed)
        )
        real = _real(views["image"])
        mismatched += not np.array_equal(real, _box_area(views["box"]))
        labelled = views["mask"] != 255
        np.testing.assert_array_equal(labelled, real)  # the mask follows the pixels regardless
    assert mismatched > 0


def test_padding_is_black_before_the_colour_jitter():
    image, _ = _image()
    cfg = dataclasses.replace(PLAIN, jitter_p=1.0, jitter=(0.0, 0.4, 0.0, 0.0))  # contrast only
    moved = False
    for seed in range(12):
        views = make_views(
            image, None, cfg=cfg, mean=MEAN, std=STD, rng=np.random.default_rng(seed)
        )
        outside = ~_box_area(views["box"])
        if outside.any():
            # contrast blends black with the mean grey, as torchvision does to the authors' crop
            moved |= bool(_real(views["image"])[outside].any())
    assert moved


def test_views_are_reproducible_and_shaped():
    rng_image = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    cfg = ViewConfig(crop=48)
    a = make_views(rng_image, None, cfg=cfg, mean=MEAN, std=STD, rng=np.random.default_rng(3))
    b = make_views(rng_image, None, cfg=cfg, mean=MEAN, std=STD, rng=np.random.default_rng(3))
    for name in ("image", "global2", "local"):
        assert a[name].shape == (3, 48, 48)
        np.testing.assert_array_equal(a[name], b[name])
    assert (a["mask"] == 255).all()


def test_demo_tags_agree_with_true_masks(tmp_path):
    write_demo(tmp_path / "demo", count=24, seed=1)
    folder = load_data_folder(tmp_path / "demo")
    from mcc_engine.data.masks import read_mask

    for sample in folder.samples:
        truth = read_mask(
            tmp_path / "demo" / "ground_truth" / sample.rel_path.replace(".jpg", ".png")
        )
        present = tuple(int(v) for v in np.unique(truth) if 0 < v < 255)
        assert present == sample.labels
    assert folder.classes == ["sun", "leaf", "fish", "boat"]
