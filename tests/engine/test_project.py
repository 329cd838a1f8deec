"""The project store: create, reconcile, tags, classes, undo across restarts, proposals, locking."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mcc_engine.data.demo import write_demo
from mcc_engine.data.masks import read_mask
from mcc_engine.errors import InputError
from mcc_engine.project.store import Project, ProjectInUse

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo(tmp_path):
    write_demo(tmp_path / "demo", count=6, seed=4)
    return tmp_path / "demo"


def test_create_reopen_and_reconcile(demo):
    with Project.open(demo) as project:
        images = project.images()
        assert len(images) == 6 and all(i.state == "new" for i in images)
        assert [c.name for c in project.classes()] == ["sun", "leaf", "fish", "boat"]
        assert project.db_path.exists()
    (demo / "images" / "scene_0005.jpg").unlink()
    extra = (demo / "images" / "scene_0004.jpg").read_bytes()
    (demo / "images" / "new.jpg").write_bytes(extra)
    with open(demo / "tags.csv", "a") as handle:
        handle.write("images/new.jpg,sun\n")
    text = (demo / "tags.csv").read_text().replace("images/scene_0005.jpg", "images/new2.jpg")
    (demo / "images" / "new2.jpg").write_bytes(extra)
    (demo / "tags.csv").write_text(text)
    with Project.open(demo / "mcc_project" / "project.sqlite") as project:
        assert project.reconcile_report.added == ["images/new.jpg", "images/new2.jpg"]
        assert project.reconcile_report.removed == ["images/scene_0005.jpg"]
        assert len(project.images()) == 7


def test_masks_undo_and_redo_survive_a_restart(demo):
    with Project.open(demo) as project:
        image = project.image(project.images()[0].id)
        first = np.zeros((image.height, image.width), np.uint8)
        second = first.copy()
        second[:5, :5] = 2
        project.save_mask(image.id, first)
        project.save_mask(image.id, second)
        assert project.image(image.id).state == "edited"
    with Project.open(demo) as project:
        np.testing.assert_array_equal(project.load_mask(image.id), second)
        np.testing.assert_array_equal(project.undo(image.id), first)
        assert project.can_undo(image.id) and project.can_redo(image.id)
        project.undo(image.id)  # back to "no mask yet"
        assert project.load_mask(image.id) is None and project.image(image.id).state == "new"
        assert not project.can_undo(image.id)
        project.redo(image.id)
        np.testing.assert_array_equal(read_mask(project.mask_path(project.image(image.id))), first)


def test_history_is_bounded(demo, monkeypatch):
    monkeypatch.setattr("mcc_engine.project.revisions.HISTORY", 5)
    with Project.open(demo) as project:
        image = project.image(project.images()[0].id)
        for value in range(8):
            project.save_mask(image.id, np.full((image.height, image.width), value % 5, np.uint8))
        steps = 0
        while project.undo(image.id) is not None:
            steps += 1
        assert steps == 4


def test_proposals_never_overwrite_edits_and_tags_and_classes_are_editable(demo):
    with Project.open(demo) as project:
        a, b = (project.image(i.id) for i in project.images()[:2])
        mask = np.ones((a.height, a.width), np.uint8)
        project.save_mask(a.id, mask)
        assert not project.save_proposal(a.id, np.zeros_like(mask), score=0.9)
        assert project.save_proposal(b.id, np.zeros((b.height, b.width), np.uint8), score=0.7)
        assert project.image(b.id).state == "proposed"
        np.testing.assert_array_equal(project.load_mask(a.id), mask)
        project.set_tags(b.id, [4, 1])
        kite = project.add_class("kite")
        project.rename_class(1, "Sun disc")
        project.set_scores({a.id: 0.1})
        assert project.image(b.id).labels == (1, 4)
        assert project.corrected_images() == [a.rel_path]
        assert [i.id for i in project.images(order="uncertainty")][:2] == [b.id, a.id]
    with Project.open(demo) as project:
        assert [c.name for c in project.classes()] == ["Sun disc", "leaf", "fish", "boat", "kite"]
        assert kite.index == 5
        assert project.data_folder().samples[1].labels == (1, 4)


def test_a_second_process_is_told_the_project_is_in_use(demo):
    with Project.open(demo):
        probe = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
                 "from mcc_engine.project.store import Project, ProjectInUse\n"
                 f"try:\n    Project.open({str(demo)!r})\nexcept ProjectInUse as e:\n    print(e)\n"
                 f"with Project.open({str(demo)!r}, readonly=True) as p:\n    print(len(p.images()))\n")  # fmt: skip
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
        )
        assert "in use by" in out.stdout and out.stdout.strip().endswith("6"), out.stderr
    with pytest.raises(ProjectInUse):
        first = Project.open(demo)
        try:
            Project.open(demo)
        finally:
            first.close()


def test_a_moved_or_renamed_image_keeps_its_mask_tags_and_history(demo):
    with Project.open(demo) as project:
        image = project.image(project.images()[0].id)
        mask = np.zeros((image.height, image.width), np.uint8)
        mask[:4, :4] = 3
        project.save_mask(image.id, mask)
        project.save_mask(image.id, mask * 0 + 1)
        project.set_tags(image.id, [3])
    old = demo / image.rel_path
    (demo / "images" / "moved here").mkdir()
    new_rel = "images/moved here/renamed.jpg"
    old.rename(demo / new_rel)
    text = (demo / "tags.csv").read_text().replace(image.rel_path, new_rel)
    (demo / "tags.csv").write_text(text)
    with Project.open(demo) as project:
        report = project.reconcile_report
        assert report.moved == [(image.rel_path, new_rel)]
        assert report.added == [] and report.removed == []
        moved = next(i for i in project.images() if i.rel_path == new_rel)
        assert moved.id == image.id and moved.state == "edited" and moved.labels == (3,)
        assert project.load_mask(moved.id).max() == 1
        np.testing.assert_array_equal(project.undo(moved.id), mask)
        assert not (project.masks_dir / image.rel_path.replace(".jpg", ".png")).exists()


def test_a_version_1_project_is_migrated(demo):
    import sqlite3

    project_dir = demo / "mcc_project"
    project_dir.mkdir()
    db = sqlite3.connect(project_dir / "project.sqlite")
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema', '1');"
        "CREATE TABLE classes (idx INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
        " color TEXT NOT NULL);"
        "INSERT INTO classes VALUES (1, 'sun', '128,0,0');"
        "CREATE TABLE images (id INTEGER PRIMARY KEY, rel_path TEXT NOT NULL UNIQUE,"
        " width INTEGER NOT NULL, height INTEGER NOT NULL, labels TEXT NOT NULL DEFAULT '',"
        " state TEXT NOT NULL DEFAULT 'new', score REAL, updated_at REAL, updated_by TEXT,"
        " rev_pos INTEGER NOT NULL DEFAULT 0, present INTEGER NOT NULL DEFAULT 1);"
        "INSERT INTO images (rel_path, width, height, labels, state)"
        " VALUES ('images/scene_0000.jpg', 0, 0, '1', 'reviewed');"
    )
    db.commit()
    db.close()
    with Project.open(demo) as project:
        first = project.image(project.images()[0].id)
        assert first.state == "reviewed" and first.width > 0
        row = project._db.query(
            "SELECT content_hash, file_size FROM images WHERE id=?", (first.id,)
        )[0]
        assert len(row["content_hash"]) == 32 and row["file_size"] > 0
        assert project._db.query("SELECT value FROM meta WHERE key='schema'")[0][0] == "3"
        assert len(project.reconcile_report.added) == 5


def test_a_newer_or_broken_project_file_is_refused(demo):
    Project.open(demo).close()
    import sqlite3

    db = sqlite3.connect(demo / "mcc_project" / "project.sqlite")
    db.execute("UPDATE meta SET value='99' WHERE key='schema'")
    db.commit()
    db.close()
    with pytest.raises(InputError, match="newer MCC Annotate"):
        Project.open(demo)
    (demo / "mcc_project" / "project.sqlite").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (demo / "mcc_project" / f"project.sqlite{suffix}").unlink(missing_ok=True)
    with pytest.raises(InputError, match=r"project\.sqlite: not a readable project file"):
        Project.open(demo)


def test_only_a_project_file_where_a_project_keeps_it_opens(tmp_path):
    fake = tmp_path / "fake_project.sqlite"
    fake.write_text("not a database\n")
    with pytest.raises(InputError, match="not an MCC Annotate project") as caught:
        Project.open(fake)
    assert caught.value.path == fake
    hollow = tmp_path / "data" / "mcc_project" / "project.sqlite"
    hollow.parent.mkdir(parents=True)
    hollow.write_bytes(b"")
    with pytest.raises(InputError, match="not a SQLite database"):
        Project.open(hollow)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert names == [
        "data",
        "data/mcc_project",
        "data/mcc_project/project.sqlite",
        "fake_project.sqlite",
    ]  # nothing created, nothing walked into


def test_a_refused_data_folder_keeps_no_project_folder(tmp_path):
    data = tmp_path / "no images"
    data.mkdir()
    (data / "notes.txt").write_text("an untagged folder opens; one without images cannot")
    with pytest.raises(InputError, match="no images here"):
        Project.open(data)
    assert [p.name for p in data.iterdir()] == ["notes.txt"]
