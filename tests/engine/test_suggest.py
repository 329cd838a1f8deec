"""Tag suggestions: the sigmoid of the classifier's logits, on the image as proposals see it."""

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from mcc_engine.errors import Cancelled
from mcc_engine.suggest import suggest_folder, suggest_tags
from tests.engine.tiny import save_tiny_checkpoint, tiny_model


def _image(seed, size=(40, 56)):
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def _direct(model, image, size):
    """The same scores written out: resize, normalise, forward, sigmoid of the logits."""
    small = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255
    x = (x - model.pixel_mean.view(1, 3, 1, 1)) / model.pixel_std.view(1, 3, 1, 1)
    with torch.no_grad():
        return torch.sigmoid(model(x)["logits"])[0].numpy()


def test_scores_are_the_sigmoid_of_the_class_logits_on_the_shrunk_image():
    model = tiny_model(num_classes=3).eval()
    image = _image(0, size=(120, 200))
    scores = suggest_tags(model, image, side=80)  # 120 x 200 -> 48 x 80 (multiples of 8)
    assert scores.shape == (3,) and scores.dtype == np.float32
    assert np.all((scores > 0) & (scores < 1))
    np.testing.assert_allclose(scores, _direct(model, image, (48, 80)), atol=1e-5)


def test_a_small_image_is_never_enlarged_and_a_silent_head_says_one_half():
    model = tiny_model(num_classes=2).eval()
    image = _image(1, size=(40, 56))
    np.testing.assert_allclose(
        suggest_tags(model, image, side=500), _direct(model, image, (40, 56)), atol=1e-5
    )
    torch.nn.init.zeros_(model.classifier.weight)
    np.testing.assert_array_equal(suggest_tags(model, image, side=500), [0.5, 0.5])


def _checkpoint(path, classes):
    model = tiny_model(num_classes=len(classes))
    save_tiny_checkpoint(path, model, classes)
    return model


def test_a_folder_is_scored_unreadable_images_named_and_a_stop_keeps_the_scores_so_far(tmp_path):
    model = _checkpoint(tmp_path / "last.pt", ["cat", "dog"]).eval()
    for k in range(3):
        Image.fromarray(_image(k)).save(tmp_path / f"{k}.png")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    seen = []
    result = suggest_folder(
        checkpoint=tmp_path / "last.pt",
        root=tmp_path,
        images=["0.png", "broken.jpg", "1.png"],
        device="cpu",
        progress=lambda i, n: seen.append((i, n)),
    )
    assert result.classes == ["cat", "dog"]
    assert sorted(result.scores) == ["0.png", "1.png"] and result.skipped == ["broken.jpg"]
    assert seen == [(1, 3), (2, 3), (3, 3)]
    # side = 2.5 x the training crop (80): the 40 x 56 images are seen whole
    np.testing.assert_allclose(
        result.scores["1.png"], _direct(model, _image(1), (40, 56)), atol=1e-5
    )

    calls = iter([False, True])
    with pytest.raises(Cancelled) as stopped:
        suggest_folder(
            checkpoint=tmp_path / "last.pt",
            root=tmp_path,
            images=["0.png", "1.png", "2.png"],
            device="cpu",
            should_stop=lambda: next(calls),
        )
    assert list(stopped.value.kept.scores) == ["0.png"]
