#!/usr/bin/env bash
# The independent training check: three regenerating iterations of nca (nca_train_trace, on the
# backend given as $4) replayed by check_training.py in Debian's python3-torch, from nca's
# initial weights and random draws; loss, weights and pool must agree (see check_training.py).
# Sourced arguments as in tests/cli/lib.sh, then the nca_train_trace binary and the backend.
source "$(dirname "$0")/../cli/lib.sh"
TRACE=$3
BACKEND=${4:-fast}
# Debian's python3-torch lives in the system Python, whatever python3 comes first in PATH.
PY=${NCA_PYTHON:-/usr/bin/python3}
"$PY" -c 'import numpy, torch' 2>/dev/null ||
  skip "$PY cannot import torch and numpy: install Debian's python3-torch (scripts/deps.sh does)"

mkdir trace
check "nca_train_trace ($BACKEND)" "$TRACE" "$SRC/data/lizard.png" trace "$BACKEND"
check "PyTorch replay agrees with nca" "$PY" "$SRC/tests/training/check_training.py" trace
finish
