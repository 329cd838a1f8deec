"""The `mcc` command line: the whole pipeline, and one line with exit status 2 for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image

from mcc_engine.cli import main
from mcc_engine.data.masks import read_mask

ROOT = Path(__file__).resolve().parents[2]


def _fails(capsys, argv, *fragments):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "demo"
    assert main(["demo", "--out", str(path), "--count", "10"]) == 0
    return path


def test_demo_train_infer_eval_pipeline(demo, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(demo), "--out", str(run), "--preset", "tiny"]) == 0
    assert (run / "last.pt").exists()
    out, conf, scores = tmp_path / "masks", tmp_path / "conf", tmp_path / "scores.csv"
    argv = ["infer", "--checkpoint", str(run / "last.pt"), "--data", str(demo), "--out", str(out),
            "--confidence", str(conf), "--scores", str(scores)]  # fmt: skip
    assert main(argv) == 0
    mask = read_mask(out / "images" / "scene_0000.png")
    with Image.open(demo / "images" / "scene_0000.jpg") as image:
        assert mask.shape == (image.height, image.width)
    assert (conf / "images" / "scene_0000.png").exists()
    assert scores.read_text().splitlines()[0] == "image,uncertainty"
    assert len(scores.read_text().splitlines()) == 11
    capsys.readouterr()
    assert main(["eval", "--pred", str(out), "--gt", str(demo / "ground_truth")]) == 0
    table = capsys.readouterr().out.strip().splitlines()
    assert table[-1].startswith("mIoU ") and 0.0 <= float(table[-1].split()[1]) <= 1.0
    # classes.txt beside ground_truth/ names the rows
    assert [row.split()[0] for row in table[:-1]] == ["background", "sun", "leaf", "fish", "boat"]
    assert main(["eval", "--pred", str(out), "--gt", str(demo / "ground_truth"), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["iou"]) == 5
    assert main(["infer", "--checkpoint", str(run / "last.pt"), "--data", str(demo), "--out",
                 str(tmp_path / "seg"), "--source", "seg", "--refine", "none"]) == 0  # fmt: skip


def test_eval_is_exact_on_identical_folders(demo, capsys):
    assert (
        main(["eval", "--pred", str(demo / "ground_truth"), "--gt", str(demo / "ground_truth")])
        == 0
    )
    assert capsys.readouterr().out.strip().endswith("mIoU 1.0000")


def test_bad_inputs_exit_2_with_one_line(demo, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    _fails(
        capsys,
        ["train", "--data", str(empty), "--out", str(tmp_path / "r")],
        "empty",
        "no tagged images",
    )

    broken = tmp_path / "broken"
    broken.mkdir()
    Image.new("RGB", (40, 40)).save(broken / "a.jpg", quality=95)
    data = (broken / "a.jpg").read_bytes()
    (broken / "a.jpg").write_bytes(data[:200])
    (broken / "tags.csv").write_text("image,tags\na.jpg,cat\n")
    _fails(capsys, ["train", "--data", str(broken), "--out", str(tmp_path / "r1"), "--preset", "tiny"],
           "a.jpg", "truncated")  # fmt: skip

    (broken / "tags.csv").write_text('image,tags\n"a.jpg,cat\n')
    _fails(
        capsys, ["train", "--data", str(broken), "--out", str(tmp_path / "r2")], "tags.csv", "line"
    )

    Image.new("RGB", (40, 40)).save(broken / "a.jpg")
    (broken / "tags.csv").write_text("image,tags\na.jpg,cat\n")
    (broken / "classes.txt").write_text("dog\n")
    _fails(capsys, ["train", "--data", str(broken), "--out", str(tmp_path / "r3")], "tags.csv: line 2",
           "'cat'")  # fmt: skip

    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"nope")
    _fails(capsys, ["train", "--data", str(demo), "--out", str(tmp_path / "r4"), "--preset", "tiny",
                    "--weights", str(junk)], "junk.pt", "not a checkpoint")  # fmt: skip
    _fails(capsys, ["train", "--data", str(demo), "--out", str(tmp_path / "r5"), "--preset", "tiny",
                    "--crop", "20"], "crop 20 is impossible")  # fmt: skip
    _fails(capsys, ["train", "--resume", str(tmp_path / "nowhere")], "nowhere", "no last.pt")
    _fails(capsys, ["train", "--data", str(demo), "--out", str(tmp_path / "r6"), "--preset", "tiny",
                    "--weights", "imagenet"], "--weights FILE")  # fmt: skip
    _fails(capsys, ["train", "--data", str(demo)], "--out")
    _fails(capsys, ["eval", "--pred", str(tmp_path / "none"), "--gt", str(demo / "ground_truth")],
           "mask folder not found")  # fmt: skip


def test_unknown_flags_and_commands_exit_2():
    for argv in (["train", "--bogus"], ["nope"], ["infer"]):
        done = subprocess.run([sys.executable, "-m", "mcc_engine.cli", *argv], cwd=ROOT,
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 2
        assert "Traceback" not in done.stderr


def test_a_resume_from_another_class_list_is_refused(demo, tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(["train", "--data", str(demo), "--out", str(run), "--preset", "tiny", "--iters", "1"])
        == 0
    )
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(other / "a.png")
    (other / "tags.csv").write_text("image,tags\na.png,kite\n")
    _fails(capsys, ["train", "--resume", str(run), "--data", str(other)], "another class list")


def test_more_bad_inputs_exit_2_naming_file_and_problem(demo, tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    Image.new("RGB", (40, 40)).save(folder / "a.jpg")
    (folder / "b.jpg").write_text("this is not a picture")
    (folder / "tags.csv").write_text("image,tags\na.jpg,cat\nb.jpg,dog\n")
    tiny = ["--preset", "tiny"]
    _fails(capsys, ["train", "--data", str(folder), "--out", str(tmp_path / "r1"), *tiny],
           "b.jpg", "not an image")  # fmt: skip

    (folder / "b.jpg").unlink()
    (folder / "tags.csv").write_text("image,tags\na.jpg,cat\na.jpg,cat,dog\n")
    _fails(capsys, ["train", "--data", str(folder), "--out", str(tmp_path / "r2"), *tiny],
           "tags.csv: line 3")  # fmt: skip
    (folder / "tags.csv").unlink()
    (folder / "tags.json").write_text('{"a.jpg": ["cat"],\n "b.jpg" ["dog"]}\n')
    _fails(capsys, ["train", "--data", str(folder), "--out", str(tmp_path / "r3"), *tiny],
           "tags.json: line 2", "malformed JSON")  # fmt: skip

    # A timm ViT state dict, but of a wider ViT than the preset's (embed 48, not 32).
    wider = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=0,
                              img_size=32, embed_dim=48, depth=2, num_heads=2, patch_size=8)  # fmt: skip
    torch.save(wider.state_dict(), tmp_path / "shapes.pth")
    _fails(capsys, ["train", "--data", str(demo), "--out", str(tmp_path / "r4"), *tiny,
                    "--weights", str(tmp_path / "shapes.pth")], "shapes.pth", "wrong shapes")  # fmt: skip
    # A pickle of arbitrary objects is refused by weights_only loading, not executed.
    torch.save({"model": _Opaque()}, tmp_path / "pickle.pt")
    _fails(capsys, ["train", "--data", str(demo), "--out", str(tmp_path / "r5"), *tiny,
                    "--weights", str(tmp_path / "pickle.pt")], "pickle.pt",
           "not a checkpoint that can be loaded safely")  # fmt: skip
    _fails(capsys, ["train", "--data", str(demo), "--out", str(tmp_path / "r6"), *tiny,
                    "--init", str(tmp_path / "pickle.pt")], "pickle.pt")  # fmt: skip
    _fails(capsys, ["infer", "--checkpoint", str(tmp_path / "shapes.pth"), "--data", str(demo),
                    "--out", str(tmp_path / "masks")], "shapes.pth")  # fmt: skip


class _Opaque:
    """An object only a full unpickler could rebuild."""


@pytest.mark.parametrize(
    ("argv", "prefix"),
    [(["import"], "mcc: argument command: invalid choice"),
     (["eval", "--pred", "p"], "mcc eval: the following arguments are required: --gt")],
)  # fmt: skip
def test_usage_errors_are_one_line_with_the_command(argv, prefix, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(prefix), err
    assert len(err.splitlines()) == 1, err


def test_mcc_cosine_flag_reaches_the_run_settings(demo, tmp_path):
    from mcc_engine.cli import main

    for flag, expected in (("--no-mcc-cosine", False), ("--mcc-cosine", True)):
        run = tmp_path / flag
        args = ["train", "--data", str(demo), "--out", str(run), "--preset", "cpu", "--iters", "1"]
        assert main([*args, "--crop", "16", "--batch", "2", flag]) == 0
        config = json.loads((run / "config.json").read_text())
        assert config["method"]["mcc_cosine"] is expected
