#!/usr/bin/env bash
# The independent check of the Distill importer: one deterministic step (every cell fires) of
# ex3_lizard from the seed, from a grown lizard and from one cut in half, computed by nca
# (nca_reference, the plain LibTorch step) and by numpy from the JSON alone
# (check_first_step.py), within 1e-5. Distill's models come from NCA_DISTILL_MODELS.
source "$(dirname "$0")/../cli/lib.sh"
REFERENCE=$3
source "$SRC/tests/distill/lib.sh"
# Debian's python3-numpy lives in the system Python, whatever python3 comes first in PATH.
PY=${NCA_PYTHON:-/usr/bin/python3}
"$PY" -c "import numpy" 2>/dev/null ||
  skip "$PY with numpy is needed (Debian's python3-numpy; scripts/deps.sh installs it)"

check "nca_reference on ex3_lizard" "$REFERENCE" "$DISTILL/ex3_lizard.json" ref.json 72 120 1 1
check "numpy's step equals nca's" "$PY" "$SRC/tests/distill/check_first_step.py" \
  "$DISTILL/ex3_lizard.json" ref.json
finish
