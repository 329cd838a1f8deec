"""One history per image: revisions are the history, undo writes nothing, files follow revisions."""

import sqlite3

import numpy as np
import pytest

from mcc_engine.data.demo import write_demo
from mcc_engine.project.history import MaskHistory
from mcc_engine.project.store import Project, StaleHistory


@pytest.fixture
def demo(tmp_path):
    write_demo(tmp_path / "demo", count=3, seed=4)
    return tmp_path / "demo"


def _fill(image, value):
    return np.full((image.height, image.width), value, np.uint8)


def _count_revisions(project, image_id):
    return project._db.query("SELECT COUNT(*) FROM revisions WHERE image_id=?", (image_id,))[0][0]


def test_undo_and_redo_move_the_pointer_and_write_no_revision(demo):
    with Project.open(demo) as project:
        image = project.image(project.images()[0].id)
        for value in (1, 2, 3):
            project.save_mask(image.id, _fill(image, value))
        stored = _count_revisions(project, image.id)
        assert stored == 4  # what was there (no mask) and three edits
        assert project.undo(image.id).max() == 2
        assert project.undo(image.id).max() == 1
        assert project.redo(image.id).max() == 2
        assert _count_revisions(project, image.id) == stored
        project.save_mask(image.id, _fill(image, 4))  # drops the redo branch (the 3)
        assert not project.can_redo(image.id)
        assert [project.revision_mask(image.id, s).max() for s in (1, 2, 3)] == [1, 2, 4]


def test_undo_back_to_a_reviewed_mask_restores_reviewed(demo):
    with Project.open(demo) as project:
        image = project.image(project.images()[0].id)
        project.save_mask(image.id, _fill(image, 1))
        project.set_state(image.id, "reviewed")
        project.save_mask(image.id, _fill(image, 2))
        assert project.image(image.id).state == "edited"
        project.undo(image.id)
        assert project.image(image.id).state == "reviewed"
        project.undo(image.id)
        assert project.image(image.id).state == "new" and project.load_mask(image.id) is None
        project.redo(image.id)
        assert project.image(image.id).state == "reviewed"


def test_an_editor_with_an_outdated_history_is_refused_and_nothing_changes(demo):
    with Project.open(demo) as project:
        image = project.image(project.images()[0].id)
        project.save_mask(image.id, _fill(image, 1))
        with pytest.raises(StaleHistory):
            project.push_mask(
                image.id, _fill(image, 2), state="edited", expect_pos=0, expect_state="new"
            )
        assert project.load_mask(image.id).max() == 1 and _count_revisions(project, image.id) == 2
        assert not list(project.masks_dir.rglob("*.tmp"))


def test_opening_repairs_a_mask_file_left_behind_its_revision(demo):
    with Project.open(demo) as project:
        a, b = (project.image(i.id) for i in project.images()[:2])
        for value in (1, 2):
            project.save_mask(a.id, _fill(a, value))
        project.save_mask(b.id, _fill(b, 3))
        path_a, path_b = project.mask_path(a), project.mask_path(b)
        first = project._db.query("SELECT png FROM revisions WHERE image_id=? AND seq=1", (a.id,))
        # As a kill leaves it: the database committed revision 2 but the file is still revision 1,
        # and b's first revision committed before its file came into place.
        path_a.write_bytes(first[0]["png"])
        path_b.unlink()
        project._db.query("UPDATE images SET mask_pending=1")
    with Project.open(demo) as project:
        assert project.reconcile_report.repaired == sorted([a.rel_path, b.rel_path])
        assert "2 masks restored" in project.reconcile_report.describe()
        assert project.load_mask(a.id).max() == 2 and project.load_mask(b.id).max() == 3
    with Project.open(demo) as project:
        assert project.reconcile_report.repaired == []


def test_a_version_2_project_is_checked_once_for_files_behind_their_revision(demo):
    with Project.open(demo) as project:
        image = project.image(project.images()[0].id)
        for value in (1, 2):
            project.save_mask(image.id, _fill(image, value))
        project.undo(image.id)
        project.mask_path(image).write_bytes(
            project._db.query("SELECT png FROM revisions WHERE image_id=? AND seq=2", (image.id,))[
                0
            ]["png"]
        )  # the old app's disagreement: the pointer says 1, the file holds 2
    db = sqlite3.connect(demo / "mcc_project" / "project.sqlite")
    db.execute("ALTER TABLE images DROP COLUMN mask_pending")
    db.execute("UPDATE meta SET value='2' WHERE key='schema'")
    db.commit()
    db.close()
    with Project.open(demo) as project:
        assert project.reconcile_report.repaired == [image.rel_path]
        assert project.load_mask(image.id).max() == 1


def test_a_history_reopened_reads_steps_it_has_not_seen_from_the_project(demo):
    with Project.open(demo) as project:
        image = project.image(project.images()[0].id)
        for value in (1, 2):
            project.save_mask(image.id, _fill(image, value))
    with Project.open(demo) as project:
        info = project.history(image.id)
        history = MaskHistory(
            info, project.load_mask(image.id), shape=(image.height, image.width), sink=project
        )
        changed = []
        history.subscribe(changed.append)
        assert history.undo() and history.mask.max() == 1 and project.load_mask(image.id).max() == 1
        assert history.undo() and (history.mask == 255).all() and not history.has_mask
        assert project.load_mask(image.id) is None and not history.undo()
        assert history.redo() and history.redo() and history.mask.max() == 2
        assert len(changed) == 4 and changed[0] == (0, 0, image.width, image.height)
        before = history.mask[:2, :3].copy()
        history.mask[:2, :3] = 4
        history.commit((0, 0, 3, 2), before)
        assert project.revision_mask(image.id, 3)[0, 0] == 4 and not history.can_redo()


def test_a_proposal_never_replaces_a_persons_work(demo):
    with Project.open(demo) as project:
        a, b = (project.image(i.id) for i in project.images()[:2])
        project.save_mask(a.id, _fill(a, 1))
        project.undo(a.id)  # back to "new", with the person's edit ahead, to redo
        assert project.image(a.id).state == "new"
        assert not project.save_proposal(a.id, _fill(a, 2))
        assert project.save_proposal(b.id, _fill(b, 4), score=0.5)
        assert project.save_proposal(b.id, _fill(b, 3), score=0.4)  # a newer model's
        assert project.image(b.id).state == "proposed" and project.load_mask(b.id).max() == 3
        project.save_mask(b.id, _fill(b, 1))
        assert project.undo(b.id).max() == 3  # the proposal it replaced is one undo away
        assert project.image(b.id).state == "proposed"


def test_old_steps_beyond_the_patch_budget_are_read_back_from_the_project(demo, monkeypatch):
    monkeypatch.setattr("mcc_engine.project.history.PATCH_BYTES", 3 * 2 * 40 * 40)
    with Project.open(demo) as project:
        image = project.image(project.images()[0].id)
        history = MaskHistory(
            project.history(image.id), None, shape=(image.height, image.width), sink=project
        )
        masks = [history.mask.copy()]
        for value in range(1, 7):  # six 40 x 40 steps: only the last three stay in memory
            before = history.mask[:40, :40].copy()
            history.mask[:40, :40] = value
            history.commit((0, 0, 40, 40), before)
            masks.append(history.mask.copy())
        assert sorted(history._patches) == [4, 5, 6]
        for k in range(5, -1, -1):
            assert history.undo()
            np.testing.assert_array_equal(history.mask, masks[k])
            stored = project.load_mask(image.id)
            np.testing.assert_array_equal(masks[k] if stored is None else stored, masks[k])
        for k in range(1, 7):
            assert history.redo()
            np.testing.assert_array_equal(history.mask, masks[k])
