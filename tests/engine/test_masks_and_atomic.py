"""Mask files and atomic writes: the pieces every other part relies on."""

import numpy as np
import pytest
from PIL import Image

from mcc_engine.atomic import atomic_write_bytes, staged_directory
from mcc_engine.data.masks import (
    mask_rel_path,
    read_confidence,
    read_mask,
    voc_colormap,
    write_confidence,
    write_mask,
)
from mcc_engine.errors import InputError


def test_voc_colormap_known_entries():
    cmap = voc_colormap()
    assert cmap.shape == (256, 3)
    assert tuple(cmap[0]) == (0, 0, 0)
    assert tuple(cmap[1]) == (128, 0, 0)
    assert tuple(cmap[15]) == (192, 128, 128)  # person
    assert tuple(cmap[255]) == (224, 224, 192)


def test_mask_round_trip_keeps_indices_and_palette(tmp_path):
    mask = np.zeros((5, 7), np.uint8)
    mask[1:3, 2:5] = 3
    mask[4, :] = 255
    path = tmp_path / "sub dir" / "a b.png"
    write_mask(path, mask)
    with Image.open(path) as image:
        assert image.mode == "P"
        assert image.getpalette()[3:6] == [128, 0, 0]
    np.testing.assert_array_equal(read_mask(path, num_classes=4), mask)


def test_read_mask_rejects_values_above_the_class_count(tmp_path):
    mask = np.full((4, 4), 7, np.uint8)
    write_mask(tmp_path / "m.png", mask)
    with pytest.raises(InputError, match=r"m\.png: mask value 7 is not a class"):
        read_mask(tmp_path / "m.png", num_classes=3)


def test_read_mask_names_a_truncated_file(tmp_path):
    write_mask(tmp_path / "m.png", np.ones((64, 64), np.uint8))
    data = (tmp_path / "m.png").read_bytes()
    (tmp_path / "m.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"m\.png"):
        read_mask(tmp_path / "m.png")


def test_mask_rel_path_mirrors_the_image():
    assert mask_rel_path("a/b c/d.JPG") == "a/b c/d.png"


def test_confidence_round_trip(tmp_path):
    conf = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    write_confidence(tmp_path / "c.png", conf)
    back = read_confidence(tmp_path / "c.png")
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, np.rint(conf * 255).astype(np.uint8))


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    atomic_write_bytes(tmp_path / "x.bin", b"one")
    atomic_write_bytes(tmp_path / "x.bin", b"two")
    assert (tmp_path / "x.bin").read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_staged_directory_keeps_the_old_destination_on_failure(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old.txt").write_text("kept")
    with pytest.raises(RuntimeError), staged_directory(dest) as stage:
        (stage / "new.txt").write_text("half")
        raise RuntimeError("disk full")
    assert sorted(p.name for p in dest.iterdir()) == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_staged_directory_replaces_the_destination_on_success(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old.txt").write_text("gone")
    with staged_directory(dest) as stage:
        (stage / "new.txt").write_text("new")
    assert sorted(p.name for p in dest.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
