# Shared by the export tests (tests/export/test_*.sh), on top of tests/cli/lib.sh: sourced with
# the nca binary, the source dir and the nca_reference binary as $1, $2 and $3.
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
REFERENCE=$3
# The model under test: the shipped one, unless NCA_TEST_MODEL names another (development).
MODEL=${NCA_TEST_MODEL:-$SRC/data/models/lizard-regenerating.pt}
[[ $MODEL = /* ]] || MODEL=$SRC/$MODEL
EXPORT_DIR=$SRC/tests/export

[[ -f $MODEL ]] || { echo "FAIL: no model at $MODEL" >&2; exit 1; }
