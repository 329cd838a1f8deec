"""A run folder read without torch: its losses, and whether it can be resumed."""

import json

from mcc_engine.train.run_state import can_resume, latest_resumable, read_log


def _run(folder, *, iters, steps, checkpoint=True, cut=False):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"train": {"iters": iters}}))
    lines = ["step,lr,total"] + [f"{s},0.001,{1.0 / s:.4f}" for s in steps]
    text = "\n".join(lines) + "\n" + ("7,0.0" if cut else "")
    (folder / "log.csv").write_text(text)
    if checkpoint:
        (folder / "last.pt").write_bytes(b"checkpoint")
    return folder


def test_the_log_reads_as_numbers_and_a_cut_row_is_dropped(tmp_path):
    run = _run(tmp_path / "run-1", iters=10, steps=[5, 6], cut=True)
    assert [r["step"] for r in read_log(run)] == [5.0, 6.0]
    assert abs(read_log(run)[1]["total"] - 0.1667) < 1e-4
    assert read_log(tmp_path / "nothing") == []


def test_only_a_run_stopped_before_its_end_can_resume(tmp_path):
    assert can_resume(_run(tmp_path / "run-a", iters=10, steps=[5]))
    assert not can_resume(_run(tmp_path / "run-b", iters=10, steps=[5, 10]))
    assert not can_resume(_run(tmp_path / "run-c", iters=10, steps=[5], checkpoint=False))
    assert can_resume(_run(tmp_path / "run-d", iters=10, steps=[]))  # killed before a log row


def test_the_newest_run_decides(tmp_path):
    _run(tmp_path / "run-20240101-000000", iters=10, steps=[5])
    assert latest_resumable(tmp_path) == tmp_path / "run-20240101-000000"
    _run(tmp_path / "run-20240102-000000", iters=10, steps=[10])
    assert latest_resumable(tmp_path) is None
    assert latest_resumable(tmp_path / "no runs") is None
