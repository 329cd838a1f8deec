"""Training runs: run folder contents, cancel, resume after a kill, corrections, DDP on gloo."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mcc_engine.data.demo import write_demo
from mcc_engine.errors import Cancelled, InputError
from mcc_engine.train.config import TrainConfig
from mcc_engine.train.schedule import lr_factor, warmup_steps
from mcc_engine.train.trainer import train

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "demo"
    write_demo(path, count=12, seed=2)
    return path


def _rows(run):
    with open(run / "log.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_run_folder_holds_config_log_and_checkpoint(demo, tmp_path):
    seen = []
    result = train(
        TrainConfig(data=str(demo), out=str(tmp_path / "run"), preset="tiny", iters=4, log_every=2),
        progress=seen.append,
    )
    assert result.step == 4
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["classes"] == ["sun", "leaf", "fish", "boat"]
    assert config["train"]["crop"] == 32 and "torch" in config["versions"]
    assert [r["step"] for r in _rows(tmp_path / "run")] == ["2", "4"]
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert state["step"] == 4 and {"model", "optimizer", "scheduler", "rng"} <= set(state)
    assert [p.step for p in seen] == [1, 2, 3, 4] and seen[-1].eta_seconds == 0


def test_cancel_keeps_a_checkpoint_and_resume_finishes(demo, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(Cancelled) as stopped:
        cfg = TrainConfig(data=str(demo), out=str(run), preset="tiny", iters=6)
        train(cfg, should_stop=lambda: True)
    assert stopped.value.kept.step == 1 and stopped.value.kept.last_checkpoint == run / "last.pt"
    assert torch.load(run / "last.pt", weights_only=True)["step"] == 1
    resumed = train(TrainConfig(resume=str(run)))
    assert resumed.step == 6


def test_resume_refuses_another_class_list(demo, tmp_path):
    train(TrainConfig(data=str(demo), out=str(tmp_path / "run"), preset="tiny", iters=1))
    other = tmp_path / "other"
    write_demo(other, count=4)
    (other / "classes.txt").write_text("sun\nleaf\nfish\nboat\nkite\n")
    with pytest.raises(InputError, match="another class list"):
        train(TrainConfig(resume=str(tmp_path / "run"), data=str(other)), folder=None)
    # an existing run is never overwritten by a new one
    with pytest.raises(InputError, match="already holds a run"):
        train(TrainConfig(data=str(demo), out=str(tmp_path / "run"), preset="tiny", iters=1))


def _cli_train(demo, run, *, iters: int, save_every: int) -> list[str]:
    """The `mcc train` command line of a tiny run that logs every step."""
    return [
        *(sys.executable, "-m", "mcc_engine.cli", "train", "--data", str(demo), "--out", str(run)),
        *("--preset", "tiny", "--iters", str(iters), "--save-every", str(save_every)),
        *("--log-every", "1"),
    ]


def test_resume_after_sigkill_continues_from_the_saved_step(demo, tmp_path):
    run = tmp_path / "run"
    cmd = _cli_train(demo, run, iters=400, save_every=3)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (run / "last.pt").exists() and len(_rows(run)) >= 7:
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = torch.load(run / "last.pt", weights_only=True)["step"]
    assert saved >= 3 and saved % 3 == 0
    result = train(TrainConfig(resume=str(run), iters=saved + 4))
    assert result.step == saved + 4
    steps = [int(r["step"]) for r in _rows(run)]
    assert steps == list(range(1, saved + 5))


def test_corrected_masks_are_used_and_sampled_more_often(demo, tmp_path):
    result = train(
        TrainConfig(
            data=str(demo),
            out=str(tmp_path / "run"),
            preset="tiny",
            iters=2,
            masks=str(demo / "ground_truth"),
            mask_images=["images/scene_0000.jpg"],
        )
    )
    assert result.step == 2
    from mcc_engine.data.dataset import TrainDataset, corrected_sampling_weights
    from mcc_engine.data.folder import load_data_folder

    folder = load_data_folder(demo)
    dataset = TrainDataset(
        folder,
        crop=32,
        mean=(0.5,) * 3,
        std=(0.5,) * 3,
        masks_dir=demo / "ground_truth",
        mask_images={"images/scene_0000.jpg"},
    )
    weights = corrected_sampling_weights(dataset, 3.0)
    assert weights[0] == pytest.approx(3 * weights[1])
    assert dataset[0]["has_mask"] and not dataset[1]["has_mask"]


def test_schedule_warms_up_then_decays():
    assert warmup_steps(20000) == 1500 and warmup_steps(100) == 8
    assert lr_factor(0, total=100, warmup=10) == pytest.approx(1e-6)
    assert lr_factor(9, total=100, warmup=10) == pytest.approx(1 - 0.1 * (1 - 1e-6))
    # after the warm-up the poly decay is measured from step 0: no restart, a drop instead
    assert lr_factor(10, total=100, warmup=10) == pytest.approx(0.9**0.9)
    assert lr_factor(50, total=100, warmup=10) == pytest.approx(0.5**0.9)
    assert lr_factor(100, total=100, warmup=10) == 0.0


def test_impossible_crop_is_refused(demo, tmp_path):
    with pytest.raises(InputError, match="crop 30 is impossible"):
        train(TrainConfig(data=str(demo), out=str(tmp_path / "r"), preset="tiny", crop=30))


def test_ddp_on_gloo_two_ranks_end_with_identical_weights(demo, tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29517",
        str(ROOT / "tests" / "engine" / "ddp_worker.py"),
        str(demo),
        str(tmp_path / "run"),
        str(tmp_path),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    initial = train(
        TrainConfig(data=str(demo), out=str(tmp_path / "single"), preset="tiny", iters=0)
    )
    moved = [k for k in a if not torch.equal(a[k], initial.model.state_dict()[k])]
    assert moved, "training changed no weight"
    assert (tmp_path / "run" / "last.pt").exists()


def test_resume_refuses_a_conflicting_setting_and_applies_an_allowed_one(demo, tmp_path):
    run = tmp_path / "run"
    train(TrainConfig(data=str(demo), out=str(run), preset="tiny", iters=2))
    with pytest.raises(InputError, match=r"--lr 0\.01 conflicts with the run.s 0\.001"):
        train(TrainConfig(resume=str(run), lr=0.01))
    with pytest.raises(InputError, match=r"w_mcc=0\.0 conflicts"):
        train(TrainConfig(resume=str(run), method={"w_mcc": 0.0}))
    # the same value as the run's is no conflict; more iterations are applied and named
    result = train(TrainConfig(resume=str(run), lr=0.001, iters=3))
    assert result.step == 3
    assert result.notes == ["resumed with --iters 3 (the run had 2)"]


def test_each_epoch_draws_new_views_also_in_data_loading_workers(demo):
    from torch.utils.data import DataLoader

    from mcc_engine.data.dataset import TrainDataset
    from mcc_engine.data.folder import load_data_folder
    from mcc_engine.train.distributed import DistContext
    from mcc_engine.train.trainer import _batches, _LimitedSampler

    dataset = TrainDataset(load_data_folder(demo), crop=32, mean=(0.5,) * 3, std=(0.5,) * 3)
    ctx = DistContext()
    batches = _batches(dataset, batch=12, seed=0, start_step=0, ctx=ctx, weights=None)
    loader = DataLoader(dataset, batch_sampler=_LimitedSampler(batches, 2), num_workers=1)
    first, second = (b["image"][b["index"].argsort()] for b in loader)  # epochs 0 and 1
    assert not torch.equal(first, second)


def test_legacy_run_settings_keep_their_method_settings():
    cfg = TrainConfig.from_dict({"preset": "cpu", "w_mcc": 0.0, "cam_warmup": 0.5})
    assert cfg.method == {"w_mcc": 0.0, "cam_warmup_fraction": 0.5}
    method = cfg.resolved().method_config()
    assert method.w_mcc == 0.0 and method.cam_warmup_fraction == 0.5 and method.mask_cell == 2


def test_ctrl_c_saves_last_pt_and_the_run_resumes(demo, tmp_path):
    run = tmp_path / "run"
    cmd = _cli_train(demo, run, iters=100000, save_every=100000)
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not ((run / "log.csv").exists() and _rows(run)):
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "continue with: mcc train --resume" in out
    saved = torch.load(run / "last.pt", weights_only=True)["step"]
    assert saved >= 1  # no --save-every step was reached: the stop itself saved it
    assert train(TrainConfig(resume=str(run), iters=saved + 1)).step == saved + 1


def test_a_model_of_an_older_version_with_decoder_biases_can_be_fine_tuned(demo, tmp_path):
    """Checkpoints before 0.2 had decoder biases and no `decoder_bias` in their settings: --init
    from one builds the decoder they need instead of refusing the file."""
    from mcc_engine.model.network import ModelConfig, build_model

    first = train(TrainConfig(data=str(demo), out=str(tmp_path / "new"), preset="tiny", iters=1))
    settings = first.model.cfg.to_dict()
    del settings["decoder_bias"]
    old = build_model(ModelConfig.from_dict(settings))  # as 0.1 built it: with biases
    assert old.decoder.conv6.bias is not None
    data = torch.load(tmp_path / "new" / "last.pt", weights_only=True)
    data.update(model=old.state_dict(), model_config=settings)
    torch.save(data, tmp_path / "old.pt")

    tuned = train(
        TrainConfig(
            data=str(demo),
            out=str(tmp_path / "tuned"),
            preset="tiny",
            init=str(tmp_path / "old.pt"),
            iters=1,
        )
    )
    assert tuned.model.decoder.conv6.bias is not None
    config = json.loads((tmp_path / "tuned" / "config.json").read_text())
    assert config["model"]["decoder_bias"] is True
    fresh = train(TrainConfig(data=str(demo), out=str(tmp_path / "fresh"), preset="tiny", iters=1))
    assert fresh.model.decoder.conv6.bias is None
