"""Slow packaging checks (`make test-package`): the PyInstaller bundle runs in a bare environment,
and the wheel installed into a fresh venv runs both commands with its resources."""

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "dist" / "mcc-annotate"
EXE = BUNDLE / ("mcc-annotate.exe" if sys.platform == "win32" else "mcc-annotate")
SOURCES = ("app", "mcc_engine", "resources", "packaging", "pyproject.toml")

pytestmark = pytest.mark.slow


def _newest_source() -> float:
    times = []
    for name in SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        times += [p.stat().st_mtime for p in files if "__pycache__" not in p.parts]
    return max(times)


def _fresh_bundle() -> Path:
    """The bundle, rebuilt with packaging/build.sh unless it is newer than every source file."""
    if not EXE.exists() or EXE.stat().st_mtime < _newest_source():
        env = {**os.environ, "PYTHON": sys.executable}
        subprocess.run(
            ["bash", str(ROOT / "packaging" / "build.sh")], cwd=ROOT, env=env, check=True
        )
    return EXE


def _assert_screenshot(path: Path) -> None:
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape[0] >= 400 and image.shape[1] >= 600
    # A real window: many colours (image, mask, icons, text), not one flat fill.
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 200


def test_bundle_runs_in_a_bare_environment(tmp_path):
    exe = _fresh_bundle()
    shot = tmp_path / "shot.png"
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in env.items()), str(exe),
                           "--demo", "--smoke", "--screenshot", str(shot)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    _assert_screenshot(shot)


def test_bundle_trains_on_the_cpu(tmp_path):
    """torch, timm and torchvision's operators work frozen: a tiny run through the bundled CLI."""
    exe = _fresh_bundle()
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    bare = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), str(exe), "mcc"]
    data, run = tmp_path / "demo", tmp_path / "run"
    made = subprocess.run([*bare, "demo", "--out", str(data), "--count", "8"],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert made.returncode == 0, made.stderr[-2000:]
    trained = subprocess.run([*bare, "train", "--data", str(data), "--out", str(run), "--preset",
                              "tiny", "--iters", "2", "--device", "cpu"],
                             capture_output=True, text=True, timeout=600)  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert (run / "last.pt").is_file()


def test_wheel_and_sdist_install_and_run(tmp_path):
    out = tmp_path / "dist"
    # --no-isolation: build with this environment's setuptools instead of downloading one.
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--skip-dependency-check",
                    "--outdir", str(out), str(ROOT)], check=True, capture_output=True)  # fmt: skip
    wheel = next(out.glob("mcc_annotate-*.whl"))
    sdist = next(out.glob("mcc_annotate-*.tar.gz"))
    names = zipfile.ZipFile(wheel).namelist()
    for resource in ("icons/mcc-annotate.png", "styles/dark.qss"):
        assert any(n.endswith(f".data/data/share/mcc-annotate/{resource}") for n in names), names
    assert sdist.stat().st_size > 0

    # A fresh venv gets the wheel alone; its dependencies (torch, Qt: gigabytes) are borrowed
    # from this environment through a .pth line placed after the venv's own site-packages.
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    py = target / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    Path(site, "borrowed_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheel)], check=True)  # fmt: skip
    bin_dir = py.parent
    env = {**os.environ, "MCC_ANNOTATE_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": ""}  # fmt: skip
    where = subprocess.run([str(py), "-c", "import mcc_engine.resources as r; print(r.resource_dir())"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)  # fmt: skip
    # The wheel's copy (its data files in the venv), not the source checkout's resources/.
    assert where.stdout.strip() == str(target / "share" / "mcc-annotate"), where.stdout
    helped = subprocess.run([str(bin_dir / "mcc"), "--help"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)  # fmt: skip
    assert helped.returncode == 0 and "train" in helped.stdout
    shot = tmp_path / "wheel.png"
    ran = subprocess.run([str(bin_dir / "mcc-annotate"), "--demo", "--smoke", "--screenshot",
                          str(shot)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    _assert_screenshot(shot)
