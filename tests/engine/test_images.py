"""Every image form decodes to 8-bit RGB the way viewers show it; broken files are named."""

import numpy as np
import pytest
from PIL import Image

from mcc_engine.data.images import image_size, read_image
from mcc_engine.errors import InputError


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    image.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert read_image(tmp_path / "r.jpg").shape == (40, 20, 3)
    assert image_size(tmp_path / "r.jpg") == (20, 40)


def test_sixteen_bit_grey_is_scaled(tmp_path):
    values = np.array([[0, 65535], [32896, 257]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    out = read_image(tmp_path / "g16.png")
    assert out.shape == (2, 2, 3)
    assert out[..., 0].tolist() == [[0, 255], [128, 1]]


def test_cmyk_rgba_and_grey(tmp_path):
    Image.new("CMYK", (4, 4), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    assert read_image(tmp_path / "c.jpg")[0, 0].tolist()[0] > 200
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(tmp_path / "t.png")
    assert read_image(tmp_path / "t.png")[0, 0].tolist() == [255, 255, 255]
    Image.new("L", (4, 4), 7).save(tmp_path / "l.png")
    assert read_image(tmp_path / "l.png")[0, 0].tolist() == [7, 7, 7]


def test_truncated_and_foreign_files_are_named(tmp_path):
    Image.new("RGB", (64, 64), (1, 2, 3)).save(tmp_path / "ok.jpg", quality=95)
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.jpg: unreadable or truncated image"):
        read_image(tmp_path / "cut.jpg")
    (tmp_path / "text.jpg").write_text("not an image")
    with pytest.raises(InputError, match=r"text\.jpg: not an image"):
        read_image(tmp_path / "text.jpg")
