#!/usr/bin/env bash
# Loss-curve regression of the regenerating experiment: tests/golden/regenerating.toml against
# tests/golden/regenerating_loss.csv (see loss_curve.sh and docs/testing.md).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/loss_curve.sh"
loss_curve regenerating "${NCA_LOSS_BAND:-0.02}"
