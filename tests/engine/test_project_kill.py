"""A project survives SIGKILL at any moment: readable, every mask a complete version."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mcc_engine.data.demo import write_demo
from mcc_engine.data.masks import read_mask
from mcc_engine.project.store import Project

ROOT = Path(__file__).resolve().parents[2]


def test_kill_the_writer_many_times(tmp_path):
    write_demo(tmp_path / "demo", count=5, seed=7)
    Project.open(tmp_path / "demo").close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(0)
    for round_ in range(15):
        proc = subprocess.Popen([sys.executable, str(ROOT / "tests/engine/kill_writer.py"),
                                 str(tmp_path / "demo"), str(round_)], stdout=subprocess.PIPE, env=env)  # fmt: skip
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with Project.open(tmp_path / "demo") as project:  # the dead writer's lock is reclaimed
            for image in (project.image(i.id) for i in project.images()):
                path = project.mask_path(image)
                if path.exists():
                    mask = read_mask(path)
                    assert mask.shape == (image.height, image.width)
                    assert len(np.unique(mask)) == 1  # each version is one complete fill
                project.can_undo(image.id)
            assert not list(project.masks_dir.rglob("*.tmp"))
