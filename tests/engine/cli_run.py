"""Running `mcc` as a user does: a subprocess, its exit status, its stderr lines, and test data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from mcc_engine.cli import main

ROOT = Path(__file__).resolve().parents[2]


def command(*argv) -> list:
    """The argv of `mcc ...` for subprocess (paths may be bytes, for names that are not UTF-8)."""
    return [
        sys.executable,
        "-m",
        "mcc_engine.cli",
        *(a if isinstance(a, bytes) else str(a) for a in argv),
    ]


def environment() -> dict[str, str]:
    """One thread per process: the machine is shared, and results do not depend on it."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def mcc(*argv, umask: int | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `mcc ARGV` in a subprocess (optionally under `umask`) and return what it did."""
    return subprocess.run(
        command(*argv),
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=timeout,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )


def refused(done: subprocess.CompletedProcess, *fragments: str) -> str:
    """Assert exit status 2 and ONE stderr line holding every fragment; return the line."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr[-3000:])
    assert len(lines) == 1, done.stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def succeeded(done: subprocess.CompletedProcess) -> str:
    """Assert exit status 0; return stdout."""
    assert done.returncode == 0, (done.returncode, done.stderr[-3000:])
    return done.stdout


def make_demo(path: Path, count: int = 6) -> Path:
    """A small demo data folder."""
    assert main(["demo", "--out", str(path), "--count", str(count)]) == 0
    return path


def make_checkpoint(demo: Path, run: Path) -> Path:
    """A tiny-preset checkpoint trained on `demo` (one step: its weights do not matter here)."""
    assert (
        main(["train", "--data", str(demo), "--out", str(run), "--preset", "tiny", "--iters", "1"])
        == 0
    )
    return run / "last.pt"


def copy_data(demo: Path, dest: Path) -> Path:
    """A copy of a demo folder without its true masks (so that only the data is there)."""
    shutil.copytree(demo, dest, ignore=shutil.ignore_patterns("ground_truth"))
    return dest


def truncate(path: Path, keep: float = 0.5) -> None:
    """Cut an image file to a share of its bytes, as an interrupted copy leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative POSIX path -> bytes), hidden ones included."""
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def hidden_leftovers(parent: Path) -> list[str]:
    """Hidden entries a staged write may leave beside its destination."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def mode(path: Path) -> int:
    """Permission bits of a file or folder."""
    return path.stat().st_mode & 0o777


def solid_image(path: Path, size: tuple[int, int] = (40, 30), colour=(90, 120, 200)) -> None:
    """An RGB image of one colour (width, height)."""
    Image.fromarray(np.full((size[1], size[0], 3), colour, np.uint8)).save(path)
