"""Tag changes as undoable steps kept in the project: over many images at once, across restarts."""

import pytest

from mcc_engine.data.demo import write_demo
from mcc_engine.project import tag_history
from mcc_engine.project.store import Project


@pytest.fixture
def demo(tmp_path):
    write_demo(tmp_path / "demo", count=6, seed=4)
    return tmp_path / "demo"


def _tags(project):
    return {i.id: i.labels for i in project.images()}


def test_one_step_over_many_images_undone_and_redone_at_once(demo):
    with Project.open(demo) as project:
        before = _tags(project)
        ids = list(before)[:3]
        changed = project.change_tags({i: (4,) for i in ids})
        assert changed == {i: (4,) for i in ids if before[i] != (4,)}
        assert all(_tags(project)[i] == (4,) for i in ids)
        assert project.can_undo_tags() and not project.can_redo_tags()
        assert project.undo_tags() == {i: before[i] for i in changed}
        assert _tags(project) == before
        assert project.undo_tags() == {}  # nothing more to undo
        assert project.redo_tags() == changed
        assert all(_tags(project)[i] == (4,) for i in ids)


def test_an_unchanged_request_makes_no_step_and_a_new_change_drops_the_redo_branch(demo):
    with Project.open(demo) as project:
        image = project.images()[0]
        assert project.change_tags({image.id: image.labels}) == {}
        assert not project.can_undo_tags()
        project.set_tags(image.id, [1])
        project.set_tags(image.id, [2])
        project.undo_tags()
        assert project.can_redo_tags()
        project.set_tags(image.id, [3])  # the undone [2] goes
        assert not project.can_redo_tags()
        project.undo_tags()
        assert project.image(image.id).labels == (1,)


def test_undo_survives_a_restart(demo):
    with Project.open(demo) as project:
        image = project.images()[0]
        old = image.labels
        project.change_tags({image.id: (2, 3)})
    with Project.open(demo) as project:
        assert project.image(image.id).labels == (2, 3)
        assert project.undo_tags() == {image.id: old}
        assert project.image(image.id).labels == old


def test_an_image_changed_outside_the_history_keeps_its_tags_on_undo(demo):
    with Project.open(demo) as project:
        a, b = project.images()[:2]
        project.change_tags({a.id: (1, 2, 3, 4), b.id: (1, 2, 3, 4)})
        project._images.set_tags(b.id, [4])  # e.g. an older app, which keeps no tag history
        assert project.undo_tags() == {a.id: a.labels}
        assert project.image(a.id).labels == a.labels
        assert project.image(b.id).labels == (4,)


def test_the_history_is_bounded(demo, monkeypatch):
    monkeypatch.setattr(tag_history, "STEPS", 3)
    with Project.open(demo) as project:
        image = project.images()[0]
        for labels in ((1, 2, 3, 4), (1,), (2,), (3,), (4,)):  # five changes
            project.set_tags(image.id, labels)
        undone = 0
        while project.undo_tags():
            undone += 1
        assert undone == 3
        assert project.image(image.id).labels == (1,)
