"""bench/clicks.py runs on a data folder with true masks, with and without a checkpoint."""

import re
import subprocess
import sys
from pathlib import Path

import torch

from mcc_engine.data.demo import write_demo
from mcc_engine.model.network import ModelConfig
from tests.engine.tiny import TINY, tiny_model

BENCH = Path(__file__).resolve().parents[2] / "bench" / "clicks.py"


def test_the_bench_prints_its_table_and_the_best_noc(tmp_path):
    write_demo(tmp_path / "demo", count=2)
    checkpoint = tmp_path / "last.pt"
    classes = ["sun", "leaf", "fish", "boat"]
    torch.save(
        {
            "model": tiny_model(4).state_dict(),
            "model_config": ModelConfig(num_classes=4, **TINY).to_dict(),
            "classes": classes,
        },
        checkpoint,
    )
    args = [
        "--data",
        str(tmp_path / "demo"),
        "--gt",
        str(tmp_path / "demo" / "ground_truth"),
        "--checkpoint",
        str(checkpoint),
        "--max-clicks",
        "3",
    ]
    done = subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=300, check=True
    )
    lines = done.stdout.strip().splitlines()
    names = [line.split()[0] for line in lines[2:-2]]
    assert names == ["clicks", "clicks+model", "box", "box+model", "brush"]
    assert re.fullmatch(r"NoC@85 \d+\.\d\d NoC@90 \d+\.\d\d", lines[-1])


def test_the_bench_says_in_one_line_when_there_is_no_truth(tmp_path):
    write_demo(tmp_path / "demo", count=1)
    args = ["--data", str(tmp_path / "demo"), "--gt", str(tmp_path / "nowhere")]
    done = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "no true mask" in done.stderr
