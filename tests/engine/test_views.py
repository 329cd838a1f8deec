"""Training views: the box of real pixels, masks transformed like images, reproducibility."""

import numpy as np

from mcc_engine.data.demo import write_demo
from mcc_engine.data.folder import load_data_folder
from mcc_engine.data.views import Geometry, ViewConfig, apply_geometry, make_views

MEAN = np.array([0.5, 0.5, 0.5], np.float32)
STD = np.array([0.25, 0.25, 0.25], np.float32)


def test_padding_is_zero_outside_the_box_and_the_mask_follows_the_image():
    image = np.zeros((20, 30, 3), np.uint8)
    image[5:10, 3:12] = 200
    mask = (image[..., 0] > 0).astype(np.uint8)
    geo = Geometry(scale=1.0, flip=True, top=0, left=0)
    crop_image, box = apply_geometry(image, geo, 32)
    crop_mask, mask_box = apply_geometry(mask, geo, 32, nearest=True, fill=255)
    assert box == mask_box == (0, 0, 20, 30)
    assert (crop_image[20:] == 0).all() and (crop_mask[20:] == 255).all()
    np.testing.assert_array_equal(
        crop_mask[:20, :30], (crop_image[:20, :30, 0] > 0).astype(np.uint8)
    )


def test_views_are_reproducible_and_shaped():
    rng_image = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    cfg = ViewConfig(crop=48)
    a = make_views(rng_image, None, cfg=cfg, mean=MEAN, std=STD, rng=np.random.default_rng(3))
    b = make_views(rng_image, None, cfg=cfg, mean=MEAN, std=STD, rng=np.random.default_rng(3))
    for name in ("image", "global2", "local"):
        assert a[name].shape == (3, 48, 48)
        np.testing.assert_array_equal(a[name], b[name])
    y0, x0, y1, x1 = a["box"]
    outside = np.ones((48, 48), bool)
    outside[y0:y1, x0:x1] = False
    assert (a["image"][:, outside] == 0).all()
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
