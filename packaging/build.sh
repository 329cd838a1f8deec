#!/usr/bin/env bash
# Build the one-folder executable: dist/mcc-annotate/mcc-annotate (.exe on Windows, .app on macOS).
# Uses whatever torch is installed in the active environment: a CPU-only torch gives a small build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller \
    packaging/mcc-annotate.spec
end=$(date +%s)
size=$(du -sh dist/mcc-annotate | cut -f1)
echo "built dist/mcc-annotate in $((end - start)) s, size $size"
