"""Data folders in every tag form, and the messages bad ones get."""

import json

import numpy as np
import pytest
from PIL import Image

from mcc_engine.data.folder import load_data_folder, write_tags_csv
from mcc_engine.data.masks import write_mask
from mcc_engine.errors import InputError


def _image(path, size=(8, 6)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (10, 20, 30)).save(path)


def test_tags_csv_with_bom_crlf_spaces_nested_paths_and_case(tmp_path):
    _image(tmp_path / "a b.jpg")
    _image(tmp_path / "sub dir" / "c.PNG")
    (tmp_path / "tags.csv").write_bytes(
        "\ufeffimage,tags\r\na b.jpg, Cat ;sofa\r\nsub dir/c.PNG,cat\r\n".encode()
    )
    folder = load_data_folder(tmp_path)
    assert folder.classes == ["Cat", "sofa"]
    assert [(s.rel_path, s.labels) for s in folder.samples] == [
        ("a b.jpg", (1, 2)),
        ("sub dir/c.PNG", (1,)),
    ]
    assert folder.label_vector(folder.samples[1]).tolist() == [1.0, 0.0]


def test_classes_txt_fixes_order_and_spelling(tmp_path):
    _image(tmp_path / "x.jpg")
    (tmp_path / "tags.csv").write_text("image,tags\nx.jpg,DOG;cat\n")
    (tmp_path / "classes.txt").write_text("dog\r\nCat\r\n\r\nbird\r\n")
    folder = load_data_folder(tmp_path)
    assert folder.classes == ["dog", "Cat", "bird"]
    assert folder.samples[0].labels == (1, 2)


def test_a_tag_missing_from_classes_txt_names_file_and_line(tmp_path):
    _image(tmp_path / "x.jpg")
    _image(tmp_path / "y.jpg")
    (tmp_path / "tags.csv").write_text("image,tags\nx.jpg,dog\ny.jpg,horse\n")
    (tmp_path / "classes.txt").write_text("dog\n")
    with pytest.raises(
        InputError, match=r"tags\.csv: line 3: tag 'horse' is not in the class list"
    ):
        load_data_folder(tmp_path)


def test_malformed_csv_lines_and_headers(tmp_path):
    _image(tmp_path / "x.jpg")
    (tmp_path / "tags.csv").write_text("image,tags\nx.jpg,dog,extra\n")
    with pytest.raises(InputError, match=r"tags\.csv: line 2: expected 'image,tags'"):
        load_data_folder(tmp_path)
    (tmp_path / "tags.csv").write_text("file;labels\n")
    with pytest.raises(InputError, match=r"line 1: header must be 'image,tags'"):
        load_data_folder(tmp_path)
    (tmp_path / "tags.csv").write_text("image,tags\nmissing.jpg,dog\n")
    with pytest.raises(InputError, match=r"line 2: image 'missing.jpg' not found"):
        load_data_folder(tmp_path)
    (tmp_path / "tags.csv").write_text("image,tags\n../x.jpg,dog\n")
    with pytest.raises(InputError, match="leaves the data folder"):
        load_data_folder(tmp_path)


def test_tags_json_and_its_errors(tmp_path):
    _image(tmp_path / "x.jpg")
    (tmp_path / "tags.json").write_text(json.dumps({"x.jpg": ["b", "a"]}))
    folder = load_data_folder(tmp_path)
    assert folder.classes == ["a", "b"] and folder.samples[0].labels == (1, 2)
    (tmp_path / "tags.json").write_text('{\n"x.jpg": ["a",\n}')
    with pytest.raises(InputError, match=r"tags\.json: line 3: malformed JSON"):
        load_data_folder(tmp_path)


def test_one_folder_per_tag(tmp_path):
    _image(tmp_path / "cat" / "1.jpg")
    _image(tmp_path / "cat" / "deeper" / "2.jpg")
    _image(tmp_path / "dog" / "3.jpg")
    _image(tmp_path / "mcc_project" / "masks" / "ignored.png")
    folder = load_data_folder(tmp_path)
    assert folder.classes == ["cat", "dog"]
    assert [(s.rel_path, s.labels) for s in folder.samples] == [
        ("cat/1.jpg", (1,)),
        ("cat/deeper/2.jpg", (1,)),
        ("dog/3.jpg", (2,)),
    ]


def test_voc_root_from_main_lists_and_from_segmentation_masks(tmp_path):
    _image(tmp_path / "JPEGImages" / "2007_000001.jpg")
    _image(tmp_path / "JPEGImages" / "2007_000002.jpg")
    main = tmp_path / "ImageSets" / "Main"
    main.mkdir(parents=True)
    (main / "cat_trainval.txt").write_text("2007_000001  1\n2007_000002 -1\n")
    (main / "dog_trainval.txt").write_text("2007_000001 -1\n2007_000002  0\n")
    folder = load_data_folder(tmp_path)
    assert folder.classes == ["cat", "dog"]
    assert [s.labels for s in folder.samples] == [(1,), (2,)]

    seg_root = tmp_path / "seg"
    _image(seg_root / "JPEGImages" / "a.jpg")
    mask = np.zeros((6, 8), np.uint8)
    mask[1, 1] = 8  # cat
    mask[2, 2] = 255
    write_mask(seg_root / "SegmentationClass" / "a.png", mask)
    folder = load_data_folder(seg_root)
    assert len(folder.classes) == 20 and folder.samples[0].labels == (8,)


def test_an_empty_folder_is_named(tmp_path):
    with pytest.raises(InputError, match="no tagged images"):
        load_data_folder(tmp_path)


def test_unlisted_images_are_reported_not_fatal(tmp_path):
    _image(tmp_path / "x.jpg")
    _image(tmp_path / "y.jpg")
    (tmp_path / "tags.csv").write_text("image,tags\nx.jpg,a\n")
    assert "1 image(s) have no entry" in load_data_folder(tmp_path).warnings[0]


def test_write_tags_csv_round_trip(tmp_path):
    _image(tmp_path / "x y.jpg")
    (tmp_path / "tags.csv").write_text('image,tags\n"x y.jpg","a;b"\n')
    folder = load_data_folder(tmp_path).with_labels({"x y.jpg": (2,)})
    write_tags_csv(folder, tmp_path / "tags.csv")
    assert load_data_folder(tmp_path).samples[0].labels == (1,)  # only b remains: classes = [b]


def test_a_file_name_that_is_not_utf8_is_refused_named_in_escaped_form(tmp_path):
    import os

    _image(tmp_path / "leaf" / "ok.jpg")
    (tmp_path / "fish").mkdir()
    with open(os.path.join(os.fsencode(tmp_path / "fish"), b"caf\xe9.jpg"), "wb") as handle:
        Image.new("RGB", (8, 6)).save(handle, format="JPEG")
    with pytest.raises(InputError, match="rename") as caught:
        load_data_folder(tmp_path)
    message = str(caught.value)
    assert "fish/caf\\xe9.jpg" in message
    message.encode("utf-8")  # printable as it is, on any terminal and in a dialog
