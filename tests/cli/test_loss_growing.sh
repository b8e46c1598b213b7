#!/usr/bin/env bash
# Loss-curve regression of the growing experiment: tests/golden/growing.toml against
# tests/golden/growing_loss.csv (see loss_curve.sh and docs/testing.md).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/loss_curve.sh"
loss_curve growing "${NCA_LOSS_BAND:-0.02}"
