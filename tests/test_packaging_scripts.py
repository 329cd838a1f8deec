"""packaging/build.sh's size report never fails the build (it once exited 141 under pipefail)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash scripts")


def _report(bundle: Path) -> subprocess.CompletedProcess:
    # As build.sh runs it: under errexit and pipefail.
    script = f"set -euo pipefail; bash packaging/size_report.sh '{bundle}'; echo after"
    return subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True)


def test_the_size_report_of_a_big_bundle_lists_twelve_parts_and_succeeds(tmp_path):
    inside = tmp_path / "bundle" / "_internal"
    for i in range(3000):  # enough lines that sort is still writing when 12 have been printed
        (inside / f"part{i:04d}").mkdir(parents=True)
    (inside / "part0007" / "big.bin").write_bytes(b"x" * 300_000)
    done = _report(tmp_path / "bundle")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("size: ") and lines[-1] == "after"
    assert len(lines) == 14 and lines[1].endswith("part0007")


def test_the_size_report_of_a_missing_bundle_still_succeeds(tmp_path):
    done = _report(tmp_path / "nothing here")
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "after"


def test_build_sh_runs_the_report_so_that_it_cannot_fail_the_build():
    build = (ROOT / "packaging" / "build.sh").read_text()
    assert "size_report.sh" in build and "| head" not in build
