"""VOC and COCO exports read back by their reference readers; failures leave nothing behind."""

import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from torchvision.datasets import VOCSegmentation

from mcc_engine.cli import main
from mcc_engine.data.demo import write_demo
from mcc_engine.data.masks import IGNORE, read_mask, write_mask
from mcc_engine.errors import Cancelled, InputError
from mcc_engine.formats.export import export_dataset, image_id


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "demo"
    write_demo(path, count=10, seed=3)
    masks = path / "ground_truth"
    # unlabelled pixels and a hole, so that 255 and holes are exercised
    m = read_mask(masks / "images" / "scene_0000.png")
    m[:3, :] = IGNORE
    write_mask(masks / "images" / "scene_0000.png", m)
    m = read_mask(masks / "images" / "scene_0001.png")
    m[10:30, 10:30] = 1
    m[18:22, 18:22] = 0  # a hole inside class 1
    write_mask(masks / "images" / "scene_0001.png", m)
    (masks / "images" / "scene_0009.png").unlink()  # one image without a mask
    return path


def test_voc_export_reads_back_pixel_identical_with_torchvision(demo, tmp_path):
    summary = export_dataset(data=demo, masks=demo / "ground_truth", fmt="voc", out=tmp_path / "voc",
                             val_fraction=0.3)  # fmt: skip
    assert summary.without_mask == ["images/scene_0009.jpg"]
    assert len(summary.train) + len(summary.val) == 9 and len(summary.val) == 3
    for split, names in (("train", summary.train), ("val", summary.val)):
        dataset = VOCSegmentation(str(tmp_path / "voc"), year="2012", image_set=split)
        assert len(dataset) == len(names)
        for (image, target), rel in zip(dataset, names):
            truth = read_mask(demo / "ground_truth" / rel.replace(".jpg", ".png"))
            np.testing.assert_array_equal(np.array(target), truth)
            assert image.size == truth.shape[::-1]
    objects = read_mask(
        tmp_path / "voc/VOCdevkit/VOC2012/SegmentationObject" / f"{image_id(summary.train[0])}.png"
    )
    assert objects.max(initial=0) >= 1
    labelmap = (tmp_path / "voc/VOCdevkit/VOC2012/labelmap.txt").read_text()
    assert "sun:128,0,0::" in labelmap


@pytest.mark.parametrize("encoding", ["rle", "polygon"])
def test_coco_export_reads_back_with_pycocotools(demo, tmp_path, encoding):
    out = tmp_path / "coco"
    summary = export_dataset(data=demo, masks=demo / "ground_truth", fmt="coco", out=out,
                             val_fraction=0.2, coco_segmentation=encoding)  # fmt: skip
    agree = total = 0
    for split in ("train", "val"):
        coco = COCO(str(out / "annotations" / f"instances_{split}.json"))
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == [
            "sun",
            "leaf",
            "fish",
            "boat",
        ]
        for image in coco.loadImgs(coco.getImgIds()):
            stem = image["file_name"].rsplit(".", 1)[0].split("__")[-1]
            truth = read_mask(demo / "ground_truth" / "images" / f"{stem}.png")
            rebuilt = np.zeros_like(truth)
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=image["id"])):
                pixels = coco.annToMask(ann).astype(bool)
                assert ann["iscrowd"] == 0
                ys, xs = np.nonzero(pixels)
                x, y, w, h = ann["bbox"]
                assert (x, y, x + w - 1, y + h - 1) == (xs.min(), ys.min(), xs.max(), ys.max())
                assert ann["area"] == pixels.sum()
                assert not (truth[pixels] == IGNORE).any()
                rebuilt[pixels] = ann["category_id"]
            labelled = truth != IGNORE
            agree += int((rebuilt[labelled] == truth[labelled]).sum())
            total += int(labelled.sum())
            assert (image["width"], image["height"]) == truth.shape[::-1]
            assert (out / "images" / image["file_name"]).is_file()
    assert agree / total >= (1.0 if encoding == "rle" else 0.97)
    assert summary.annotations > 0


def test_a_failure_midway_leaves_the_destination_as_it_was(demo, tmp_path):
    dest = tmp_path / "out"
    (dest / "annotations").mkdir(parents=True)
    (dest / "annotations" / "keep.json").write_text("earlier export")
    calls = []
    with pytest.raises(Cancelled):
        export_dataset(data=demo, masks=demo / "ground_truth", fmt="voc", out=dest,
                       should_stop=lambda: len(calls) > 3, progress=lambda i, n: calls.append(i))  # fmt: skip
    assert [p.relative_to(dest).as_posix() for p in dest.rglob("*")] == [
        "annotations",
        "annotations/keep.json",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_bad_masks_are_named(demo, tmp_path):
    masks = tmp_path / "masks"
    (masks / "images").mkdir(parents=True)
    write_mask(masks / "images" / "scene_0000.png", np.zeros((5, 5), np.uint8))
    with pytest.raises(InputError, match=r"scene_0000\.png: mask is 5x5 but its image is"):
        export_dataset(data=demo, masks=masks, fmt="coco", out=tmp_path / "o")
    write_mask(masks / "images" / "scene_0000.png", np.full((5, 5), 9, np.uint8))
    with pytest.raises(InputError, match="mask value 9 is not a class"):
        export_dataset(data=demo, masks=masks, fmt="voc", out=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_cli_export_and_a_read_only_destination(demo, tmp_path, capsys):
    assert main(["export", "--data", str(demo), "--masks", str(demo / "ground_truth"), "--format",
                 "coco", "--out", str(tmp_path / "c"), "--coco-segmentation", "polygon"]) == 0  # fmt: skip
    assert "exported 9 images as COCO" in capsys.readouterr().out
    assert json.loads((tmp_path / "c/annotations/instances_train.json").read_text())["images"]
    # A destination that cannot be created (its parent is a file) fails in one line, exit 2.
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    code = main(["export", "--data", str(demo), "--masks", str(demo / "ground_truth"),
                 "--format", "voc", "--out", str(blocker / "voc")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "blocker" in err and len(err.splitlines()) == 1
    assert blocker.read_text() == "a file, not a folder"


def test_only_the_chosen_images_are_exported_and_the_rest_is_counted(demo, tmp_path):
    chosen = {"images/scene_0002.jpg", "images/scene_0005.jpg", "images/scene_0009.jpg"}
    summary = export_dataset(
        data=demo,
        masks=demo / "ground_truth",
        fmt="coco",
        out=tmp_path / "coco",
        val_fraction=0.0,
        only=chosen,
    )
    assert summary.train == ["images/scene_0002.jpg", "images/scene_0005.jpg"]
    assert summary.without_mask == ["images/scene_0009.jpg"]  # chosen, but it has no mask
    assert len(summary.not_chosen) == 7 and "7 images not chosen" in summary.describe()
    doc = json.loads((tmp_path / "coco" / "annotations" / "instances_train.json").read_text())
    assert [image["file_name"] for image in doc["images"]] == [
        "images__scene_0002.jpg",
        "images__scene_0005.jpg",
    ]
