"""Imports from VOC, COCO and labelme into a project, with reports of what did not match."""

import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mcc_engine.data.demo import write_demo
from mcc_engine.data.masks import read_mask
from mcc_engine.errors import InputError
from mcc_engine.formats.export import export_dataset
from mcc_engine.formats.imports import import_coco, import_labelme, import_voc
from mcc_engine.project.store import Project


@pytest.fixture
def demo(tmp_path):
    write_demo(tmp_path / "demo", count=6, seed=8)
    return tmp_path / "demo"


def _truth(demo, image):
    return read_mask(demo / "ground_truth" / image.rel_path.replace(".jpg", ".png"))


def test_voc_and_coco_exports_import_back_exactly(demo, tmp_path):
    export_dataset(data=demo, masks=demo / "ground_truth", fmt="voc", out=tmp_path / "voc")
    export_dataset(data=demo, masks=demo / "ground_truth", fmt="coco", out=tmp_path / "coco",
                   coco_segmentation="polygon", val_fraction=0.0)  # fmt: skip
    with Project.open(demo) as project:
        report = import_voc(project, tmp_path / "voc")
        assert len(report.imported) == 6 and not report.unknown_classes
        for image in project.images():
            np.testing.assert_array_equal(project.load_mask(image.id), _truth(demo, image))
            assert image.state == "edited"
        report = import_coco(project, tmp_path / "coco" / "annotations" / "instances_train.json")
        assert len(report.imported) == 6
        for image in project.images():
            np.testing.assert_array_equal(project.load_mask(image.id), _truth(demo, image))


def test_coco_crowd_rle_and_unknown_categories_are_reported(demo, tmp_path):
    with Project.open(demo) as project:
        image = project.image(project.images()[0].id)
        h, w = image.height, image.width
        crowd = np.zeros((h, w), np.uint8, order="F")
        crowd[:10, :10] = 1
        rle = mask_utils.encode(crowd)
        uncompressed = {"size": [h, w], "counts": _uncompressed(crowd)}
        doc = {"images": [{"id": 1, "file_name": image.rel_path, "height": h, "width": w},
                          {"id": 2, "file_name": "nowhere.jpg", "height": h, "width": w},
                          {"id": 3, "file_name": "../../etc/passwd", "height": h, "width": w}],
               "categories": [{"id": 1, "name": "Sun"}, {"id": 7, "name": "kite"}],
               "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 1, "area": 100,
                                "segmentation": uncompressed},
                               {"id": 2, "image_id": 1, "category_id": 7, "iscrowd": 0, "area": 4,
                                "segmentation": {"size": [h, w], "counts": rle["counts"].decode()}}]}  # fmt: skip
        (tmp_path / "c.json").write_text(json.dumps(doc))
        report = import_coco(project, tmp_path / "c.json")
        assert report.unknown_classes == {"kite"}
        assert report.missing_images == ["nowhere.jpg"]
        assert report.refused_paths == ["../../etc/passwd"]
        mask = project.load_mask(image.id)
        assert mask[5, 5] == 255 and mask[20, 20] == 0  # kite (smaller, drawn last) is unknown


def _uncompressed(mask):
    flat = mask.flatten(order="F")
    counts, current, run = [], 0, 0
    for v in flat:
        if v != current:
            counts.append(run)
            current, run = v, 0
        run += 1
    counts.append(run)
    return counts


def test_labelme_shapes(demo, tmp_path):
    with Project.open(demo) as project:
        image = project.image(project.images()[1].id)
        shapes = [{"label": "leaf", "shape_type": "polygon", "points": [[5, 5], [30, 5], [30, 30], [5, 30]]},
                  {"label": "boat", "shape_type": "rectangle", "points": [[40, 40], [50, 50]]},
                  {"label": "sun", "shape_type": "circle", "points": [[70, 70], [75, 70]]},
                  {"label": "kite", "shape_type": "polygon", "points": [[0, 60], [10, 60], [10, 70]]}]  # fmt: skip
        doc = {"imagePath": image.rel_path.split("/")[-1], "imageHeight": image.height,
               "imageWidth": image.width, "shapes": shapes, "imageData": None}  # fmt: skip
        (tmp_path / "lm").mkdir()
        (tmp_path / "lm" / "a.json").write_text(json.dumps(doc))
        (tmp_path / "lm" / "b.json").write_text(json.dumps({**doc, "imagePath": "/abs/x.jpg"}))
        report = import_labelme(project, tmp_path / "lm")
        assert report.imported == [image.rel_path] and report.refused_paths == ["/abs/x.jpg"]
        assert report.unknown_classes == {"kite"}
        mask = project.load_mask(image.id)
        assert (mask[10, 10], mask[45, 45], mask[70, 72], mask[61, 8]) == (2, 4, 1, 255)
        (tmp_path / "lm" / "a.json").write_text("{ broken")
        with pytest.raises(InputError, match=r"a\.json: line 1: malformed JSON"):
            import_labelme(project, tmp_path / "lm")
