#!/usr/bin/env bash
# nca export --torch: Python PyTorch (Debian's python3-torch) loads the module with
# torch.jit.load, one deterministic step there matches the C++ step within 1e-4, and the module
# records the grid the model was trained on.
source "$(dirname "$0")/lib.sh"
# Debian's python3-torch lives in the system Python, whatever python3 comes first in PATH.
PY=${NCA_PYTHON:-/usr/bin/python3}
"$PY" -c 'import torch' 2>/dev/null ||
  skip "$PY cannot import torch: install Debian's python3-torch (scripts/deps.sh does)"

check "export --torch" "$NCA" export --model "$MODEL" --torch lizard.pt
check "C++ reference" "$REFERENCE" "$MODEL" ref.json 72 120 0 1
# The shipped models were trained on the 72x72 grid.
check "Python loads the module and matches C++" "$PY" "$EXPORT_DIR/check_torch.py" lizard.pt ref.json 72
finish
