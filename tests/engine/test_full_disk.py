"""A full disk: exports and mask saves fail in one clear line and keep what was there.

The disk is a real, tiny tmpfs mounted for the test; where mounting is not permitted (not root,
no mount namespace), the tests are skipped with that reason.
"""

import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from mcc_engine.cli import main
from mcc_engine.data.demo import write_demo
from mcc_engine.errors import InputError
from mcc_engine.project.store import Project


@pytest.fixture
def small_disk(tmp_path):
    """A factory: small_disk(kib) mounts a tmpfs of that size and returns its path."""
    mounts = []

    def mount(kib: int) -> Path:
        where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(where)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
        mounts.append(where)
        return where

    if sys.platform != "linux":
        pytest.skip("tmpfs mounts are a Linux feature")
    yield mount
    for where in mounts:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder: Path) -> None:
    with pytest.raises(OSError), open(folder / "filler.bin", "wb", buffering=0) as handle:
        while True:
            handle.write(b"\0" * 4096)


def test_export_to_a_full_disk_exits_2_and_keeps_the_destination(small_disk, tmp_path, capsys):
    write_demo(tmp_path / "demo", count=8, seed=2)
    disk = small_disk(48)
    dest = disk / "export"
    (dest / "VOCdevkit").mkdir(parents=True)
    (dest / "VOCdevkit" / "earlier.txt").write_text("an earlier export")
    code = main(["export", "--data", str(tmp_path / "demo"), "--masks",
                 str(tmp_path / "demo" / "ground_truth"), "--format", "voc", "--out", str(dest)])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "No space left on device" in err
    assert sorted(p.name for p in disk.iterdir()) == ["export"]  # nothing half-written beside it
    assert [p.relative_to(dest).as_posix() for p in dest.rglob("*")] == [
        "VOCdevkit",
        "VOCdevkit/earlier.txt",
    ]


def test_saving_a_mask_on_a_full_disk_keeps_the_previous_version(small_disk):
    disk = small_disk(1024)
    write_demo(disk / "demo", count=3, seed=5)
    with Project.open(disk / "demo") as project:
        image = project.image(project.images()[0].id)
        first = np.ones((image.height, image.width), np.uint8)
        project.save_mask(image.id, first)
        _fill(disk)
        noisy = np.random.default_rng(0).integers(0, 5, first.shape).astype(np.uint8)
        with pytest.raises(InputError, match="disk full"):
            project.save_mask(image.id, noisy)
        np.testing.assert_array_equal(project.load_mask(image.id), first)
    (disk / "filler.bin").unlink()
    with Project.open(disk / "demo") as project:
        np.testing.assert_array_equal(project.load_mask(image.id), first)
        assert not list(project.masks_dir.rglob("*.tmp"))
