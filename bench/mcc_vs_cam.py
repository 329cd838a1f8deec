"""MCC against plain CAM training, over seeds and two scene generators, through the `mcc` CLI.

For every data set, seed and arm: `mcc train`, then `mcc infer` for each source, then `mcc eval`.
Arms: `mcc` (the preset as it is) and `cam` (--w-mcc 0 --w-aff 0 --w-seg 0 --w-reg 0, the
ablation baseline); more with --arm NAME="FLAGS". Results go to a JSON-lines file as they come,
so an interrupted sweep continues where it stopped; the table prints mean and spread per arm.

    python bench/mcc_vs_cam.py --work /tmp/sweep --seeds 0 1 2 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ARMS = {
    "mcc": "",
    "cam": "--w-mcc 0 --w-aff 0 --w-seg 0 --w-reg 0",
}
SOURCES = {"mcc": ("seg", "cam"), "cam": ("cam",)}


def mcc(*args: str) -> str:
    """Run one `mcc` command with one thread; its stdout, or a RuntimeError with its stderr."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "mcc_engine.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"mcc {' '.join(args)}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def prepare(work: Path) -> dict[str, Path]:
    """The demo folder and the second generator's folder (320 images each)."""
    from bench.scenes import write_scenes

    data = {"demo": work / "data" / "demo", "scenes": work / "data" / "scenes"}
    if not (data["demo"] / "tags.csv").is_file():
        mcc("demo", "--out", str(data["demo"]))
    if not (data["scenes"] / "tags.csv").is_file():
        write_scenes(data["scenes"], count=320, seed=0)
    return data


def one_run(
    work: Path,
    data: Path,
    name: str,
    arm: str,
    flags: str,
    seed: int,
    preset: str,
    iters: int | None,
) -> list[dict]:
    """Train one arm on one data set with one seed; the mIoU of each of its sources."""
    run = work / "runs" / f"{name}-{arm}-s{seed}"
    if not (run / "done").is_file():
        extra = ["--iters", str(iters)] if iters else []
        if (run / "last.pt").is_file():
            mcc("train", "--resume", str(run), *extra)
        else:
            mcc(
                "train",
                "--data",
                str(data),
                "--out",
                str(run),
                "--preset",
                preset,
                "--seed",
                str(seed),
                "--save-every",
                "100",
                *extra,
                *shlex.split(flags),
            )
        (run / "done").write_text("")
    rows = []
    for source in SOURCES.get(arm, ("seg", "cam")):
        pred = run / f"pred-{source}"
        if not pred.is_dir():
            mcc(
                "infer",
                "--checkpoint",
                str(run / "last.pt"),
                "--data",
                str(data),
                "--out",
                str(pred),
                "--source",
                source,
            )
        scores = json.loads(
            mcc("eval", "--pred", str(pred), "--gt", str(data / "ground_truth"), "--json")
        )
        rows.append(
            {
                "data": name,
                "arm": arm,
                "seed": seed,
                "source": source,
                "miou": scores["miou"],
                "iou": dict(zip(scores["classes"], scores["iou"])),
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    """Mean and spread (sample standard deviation) of mIoU per data set, arm and source."""
    groups: dict[tuple[str, str, str], list[tuple[int, float]]] = {}
    for r in rows:
        groups.setdefault((r["data"], r["arm"], r["source"]), []).append((r["seed"], r["miou"]))
    lines = [f"{'data':<8} {'arm':<14} {'source':<6} {'per seed':<30} mean   spread"]
    for (data, arm, source), values in sorted(groups.items()):
        values.sort()
        per = " ".join(f"{v:.3f}" for _, v in values)
        ms = [v for _, v in values]
        spread = statistics.stdev(ms) if len(ms) > 1 else 0.0
        lines.append(
            f"{data:<8} {arm:<14} {source:<6} {per:<30} {statistics.mean(ms):.3f}  {spread:.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    """Command line: run the sweep and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", nargs="+", default=["demo", "scenes"])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--iters", type=int)
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (one thread each)")
    parser.add_argument(
        "--arm",
        action="append",
        default=[],
        help='more arms: NAME="FLAGS" (e.g. raw="--w-mcc 0.5")',
    )
    parser.add_argument("--only-arms", nargs="+", help="run only these arms")
    args = parser.parse_args()
    arms = dict(ARMS)
    for spec in args.arm:
        name, _, flags = spec.partition("=")
        arms[name] = flags
    if args.only_arms:
        arms = {k: v for k, v in arms.items() if k in args.only_arms}
    args.work.mkdir(parents=True, exist_ok=True)
    data = prepare(args.work)
    results = args.work / "results.jsonl"
    done = (
        [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    )
    finished = {(r["data"], r["arm"], r["seed"]) for r in done}
    jobs = [
        (name, arm, flags, seed)
        for name in args.data
        for seed in args.seeds
        for arm, flags in arms.items()
        if (name, arm, seed) not in finished
    ]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(
                one_run, args.work, data[name], name, arm, flags, seed, args.preset, args.iters
            )
            for name, arm, flags, seed in jobs
        ]
        for future in futures:
            for row in future.result():
                done.append(row)
                with open(results, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
    print(table([r for r in done if r["arm"] in arms and r["data"] in args.data]))


if __name__ == "__main__":
    main()
