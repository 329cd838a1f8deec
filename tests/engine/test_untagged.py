"""Folders without tags, or tagged in part: the project opens them, the CLI's loader refuses them,
and the app's minimum for fine-tuning counts the tagged images only."""

import numpy as np
import pytest
from PIL import Image

from mcc_engine.data.folder import DataFolder, Sample, load_data_folder
from mcc_engine.errors import InputError
from mcc_engine.project.store import Project
from mcc_engine.train.enough_tags import MIN_TAGGED_IMAGES, class_counts, too_few_tags


def _image(path, size=(20, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 120, 30)).save(path)


def test_a_folder_without_tags_loads_only_where_untagged_images_are_allowed(tmp_path):
    _image(tmp_path / "b.jpg")
    _image(tmp_path / "a b.png")
    _image(tmp_path / ".hidden" / "c.jpg")
    _image(tmp_path / "mcc_project" / "thumbnails" / "d.jpg")
    with pytest.raises(InputError, match="no tagged images"):
        load_data_folder(tmp_path)  # the CLI's rule stays
    folder = load_data_folder(tmp_path, allow_untagged=True)
    assert folder.classes == []
    assert [(s.rel_path, s.labels) for s in folder.samples] == [
        ("a b.png", ()),
        ("b.jpg", ()),
    ]
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    assert load_data_folder(tmp_path, allow_untagged=True).classes == ["cat", "dog"]


def test_a_folder_with_no_image_is_refused_even_untagged(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing")
    with pytest.raises(InputError, match="no images here"):
        load_data_folder(tmp_path, allow_untagged=True)


def test_a_tags_file_for_some_images_keeps_the_others_untagged_not_the_masks_beside(tmp_path):
    for name in ("images/x.jpg", "images/y.jpg", "images/z.jpg", "masks/x.png"):
        _image(tmp_path / name)
    (tmp_path / "tags.csv").write_text("image,tags\nimages/x.jpg,cat\n")
    strict = load_data_folder(tmp_path)
    assert [s.rel_path for s in strict.samples] == ["images/x.jpg"]
    assert "2 image(s) have no entry" in strict.warnings[0]
    folder = load_data_folder(tmp_path, allow_untagged=True)
    assert [(s.rel_path, s.labels) for s in folder.samples] == [
        ("images/x.jpg", (1,)),
        ("images/y.jpg", ()),
        ("images/z.jpg", ()),
    ]
    assert folder.warnings == []


def test_images_beside_the_folders_per_tag_are_untagged(tmp_path):
    _image(tmp_path / "cat" / "1.jpg")
    _image(tmp_path / "loose.jpg")
    folder = load_data_folder(tmp_path, allow_untagged=True)
    assert [(s.rel_path, s.labels) for s in folder.samples] == [
        ("cat/1.jpg", (1,)),
        ("loose.jpg", ()),
    ]
    assert [s.rel_path for s in load_data_folder(tmp_path).samples] == ["cat/1.jpg"]


def test_an_untagged_folder_opens_as_a_project_and_new_images_join_it(tmp_path):
    _image(tmp_path / "a.jpg")
    _image(tmp_path / "b.jpg")
    with Project.open(tmp_path) as project:
        assert project.classes() == []
        assert [i.labels for i in project.images()] == [(), ()]
        assert project.untagged_count() == 2
        cat = project.add_class("cat")
        first = project.images()[0]
        project.set_tags(first.id, [cat.index])
        assert [i.rel_path for i in project.images(tagged=False)] == ["b.jpg"]
        assert [s.rel_path for s in project.data_folder(tagged=True).samples] == ["a.jpg"]
    _image(tmp_path / "c.jpg")
    with Project.open(tmp_path) as project:
        assert project.reconcile_report.added == ["c.jpg"]
        assert [(i.rel_path, i.labels) for i in project.images()] == [
            ("a.jpg", (1,)),
            ("b.jpg", ()),
            ("c.jpg", ()),
        ]


def test_an_image_left_out_of_a_saved_tags_file_stays_in_the_project(tmp_path):
    """Save tags writes tagged images only; reopening must not take the others away."""
    _image(tmp_path / "a" / "1.jpg")
    _image(tmp_path / "b" / "2.jpg")
    with Project.open(tmp_path) as project:
        project.add_class("cat")
        project.set_tags(project.images()[0].id, [1])
    (tmp_path / "tags.csv").write_text("image,tags\na/1.jpg,cat\n")
    with Project.open(tmp_path) as project:
        assert [i.rel_path for i in project.images()] == ["a/1.jpg", "b/2.jpg"]
        assert project.reconcile_report.removed == []


def _folder(labels):
    samples = [Sample(f"{i}.jpg", tuple(ls)) for i, ls in enumerate(labels)]
    return DataFolder(root=None, classes=["cat", "dog", "owl"], samples=samples)


def test_the_fine_tune_minimum_counts_tagged_images_and_classes_in_use():
    enough = _folder([(1,)] * 6 + [(2,)] * 2 + [()] * 5)
    assert class_counts(enough) == {"cat": 6, "dog": 2, "owl": 0}
    assert too_few_tags(enough) is None  # owl is on no image: not in use, fine
    few = _folder([(1,)] * (MIN_TAGGED_IMAGES - 1) + [()] * 3)
    message = too_few_tags(few)
    assert "at least 8 tagged images" in message and "7 images tagged, 3 untagged" in message
    rare = _folder([(1,)] * 8 + [(1, 3)])
    assert "'owl' is on 1" in too_few_tags(rare)


def test_suggestions_are_stored_by_class_name_and_thresholded(tmp_path):
    _image(tmp_path / "a.jpg")
    _image(tmp_path / "b.jpg")
    (tmp_path / "classes.txt").write_text("cat\ndog\nowl\n")
    with Project.open(tmp_path) as project:
        a, b = project.images()
        # The model knows two of the classes, in another order.
        project.store_suggestions(
            {a.id: np.array([0.9, 0.2]), b.id: np.array([0.4, 0.7])},
            model_classes=["Owl", "cat"],
            checkpoint="run/last.pt",
        )
        found = project.suggestions()
        assert found[a.id].labels == (3,) and found[a.id].scores == {3: 0.9, 1: 0.2}
        assert found[b.id].labels == (1,)
        assert project.images()[0].labels == ()  # a suggestion is never a tag by itself


def test_the_demo_without_its_tags_file_is_its_images_untagged_not_its_masks(tmp_path):
    from mcc_engine.data.demo import write_demo

    write_demo(tmp_path / "demo", count=3, seed=2)
    (tmp_path / "demo" / "tags.csv").unlink()  # images/*.jpg, ground_truth/images/*.png remain
    with pytest.raises(InputError, match="'ground_truth' is not in the class list"):
        load_data_folder(tmp_path / "demo")  # the CLI: sub-folders are tags
    folder = load_data_folder(tmp_path / "demo", allow_untagged=True)
    assert folder.classes == ["sun", "leaf", "fish", "boat"]  # its classes.txt
    assert [(s.rel_path, s.labels) for s in folder.samples] == [
        (f"images/scene_000{k}.jpg", ()) for k in range(3)
    ]


def test_with_a_class_list_only_sub_folders_named_as_classes_are_tags(tmp_path):
    _image(tmp_path / "cat" / "1.jpg")
    _image(tmp_path / "2024" / "2.jpg")
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    folder = load_data_folder(tmp_path, allow_untagged=True)
    assert [(s.rel_path, s.labels) for s in folder.samples] == [
        ("cat/1.jpg", (1,)),
        ("2024/2.jpg", ()),
    ]
