#!/usr/bin/env bash
# Build the one-folder executable dist/mcc-annotate/mcc-annotate (.exe on Windows; on macOS also
# dist/mcc-annotate.app) with the torch installed in the environment. Prints time and sizes.
#   PYTHON=path/to/python   the interpreter whose packages go into the bundle (default .venv)
#   MCC_CPU_ONLY=1          with a CUDA torch: leave out the GPU-only NVIDIA libraries, hide GPUs
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3

flavour=$("$PY" - <<'EOF'
import importlib.util

import torch

nvidia = importlib.util.find_spec("nvidia") is not None
if torch.version.cuda is None:
    print(f"CPU-only torch {torch.__version__}: no CUDA libraries to bundle")
else:
    print(f"CUDA torch {torch.__version__} (CUDA {torch.version.cuda}), NVIDIA packages: {nvidia}")
EOF
)
echo "mcc-annotate build: $flavour"
if [ "${MCC_CPU_ONLY:-0}" = "1" ]; then
    echo "MCC_CPU_ONLY=1: GPU-only NVIDIA libraries left out, the bundle runs on the CPU"
fi

start=$(date +%s)
# nice: PyInstaller's analysis of torch takes minutes of CPU; leave the machine usable meanwhile.
nice -n 10 "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/mcc-annotate.spec
end=$(date +%s)

bundle=dist/mcc-annotate
echo "built $bundle in $((end - start)) s"
bash packaging/size_report.sh "$bundle" || true  # a report: it must never fail the build
