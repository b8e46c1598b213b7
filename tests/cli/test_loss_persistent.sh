#!/usr/bin/env bash
# Loss-curve regression of the persistent experiment: tests/golden/persistent.toml against
# tests/golden/persistent_loss.csv (see loss_curve.sh and docs/testing.md).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/loss_curve.sh"
loss_curve persistent "${NCA_LOSS_BAND:-0.02}"
