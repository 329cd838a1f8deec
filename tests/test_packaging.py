"""Slow packaging checks (`make test-package`): the PyInstaller bundle runs in a bare environment
and under a real X server (Xvfb) with the xcb libraries it carries, and the wheel installed into a
fresh venv runs both commands with its resources."""

import contextlib
import os
import select
import shutil
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
    done = subprocess.run(
        [
            "env",
            "-i",
            *(f"{k}={v}" for k, v in env.items()),
            str(exe),
            "--demo",
            "--smoke",
            "--screenshot",
            str(shot),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    _assert_screenshot(shot)


@contextlib.contextmanager
def _x_server():
    """A real X server (Xvfb) on a free display; yields DISPLAY."""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as answer:
            ready, _, _ = select.select([answer], [], [], 30)
            number = answer.readline().strip() if ready else ""
        assert number.isdigit(), "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 bundles are Linux only")
def test_bundle_carries_the_xcb_libraries_qt_needs():
    """Each X library the bundle carries is the one the xcb plugin's library loads, not the system's."""
    from app.platform_check import BUNDLED_XCB

    exe = _fresh_bundle()
    qpa = exe.parent / "_internal" / "PySide6" / "Qt" / "lib" / "libQt6XcbQpa.so.6"
    listing = subprocess.run(["ldd", str(qpa)], capture_output=True, text=True, check=True).stdout
    resolved = {}
    for line in listing.splitlines():
        name, _, where = line.strip().partition(" => ")
        resolved[name] = where.split(" (")[0]
    for soname in BUNDLED_XCB:
        assert resolved.get(soname, "").startswith(str(exe.parent)), (soname, resolved.get(soname))


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (apt-get install xvfb)")
def test_bundle_starts_under_a_real_x_server(tmp_path):
    exe = _fresh_bundle()
    shot = tmp_path / "x11.png"
    with _x_server() as display:
        env = {
            "HOME": str(tmp_path),
            "PATH": "/usr/bin:/bin",
            "DISPLAY": display,
            "QT_QPA_PLATFORM": "xcb",
        }
        done = subprocess.run(
            [
                "env",
                "-i",
                *(f"{k}={v}" for k, v in env.items()),
                str(exe),
                "--demo",
                "--smoke",
                "--screenshot",
                str(shot),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    _assert_screenshot(shot)


def test_bundle_trains_on_the_cpu(tmp_path):
    """torch, timm and torchvision's operators work frozen: a tiny run through the bundled CLI."""
    exe = _fresh_bundle()
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    bare = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), str(exe), "mcc"]
    data, run = tmp_path / "demo", tmp_path / "run"
    made = subprocess.run(
        [*bare, "demo", "--out", str(data), "--count", "8"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert made.returncode == 0, made.stderr[-2000:]
    trained = subprocess.run(
        [
            *bare,
            "train",
            "--data",
            str(data),
            "--out",
            str(run),
            "--preset",
            "tiny",
            "--iters",
            "2",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert (run / "last.pt").is_file()


def test_wheel_and_sdist_install_and_run(tmp_path):
    out = tmp_path / "dist"
    # --no-isolation: build with this environment's setuptools instead of downloading one.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            "--skip-dependency-check",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
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
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "borrowed_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
    )
    bin_dir = py.parent
    env = {
        **os.environ,
        "MCC_ANNOTATE_HOME": str(tmp_path / "home"),
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": "",
    }
    where = subprocess.run(
        [str(py), "-c", "import mcc_engine.resources as r; print(r.resource_dir())"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    # The wheel's copy (its data files in the venv), not the source checkout's resources/.
    assert where.stdout.strip() == str(target / "share" / "mcc-annotate"), where.stdout
    helped = subprocess.run(
        [str(bin_dir / "mcc"), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert helped.returncode == 0 and "train" in helped.stdout
    shot = tmp_path / "wheel.png"
    ran = subprocess.run(
        [str(bin_dir / "mcc-annotate"), "--demo", "--smoke", "--screenshot", str(shot)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    _assert_screenshot(shot)
