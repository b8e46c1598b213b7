# Shared by the tests of Distill's model files, after tests/cli/lib.sh: sets DISTILL to the
# folder of Distill's 31 model files (NCA_DISTILL_MODELS). They are Distill's (CC-BY 4.0) and not
# part of nca: without the folder the test skips, and in CI (CI=true) fails.
DISTILL=${NCA_DISTILL_MODELS:-}
[[ -n $DISTILL && -f $DISTILL/ex3_lizard.json ]] ||
  skip "Distill's model files are not here: set NCA_DISTILL_MODELS to a folder holding them" \
    "(public/webgl_models8 of github.com/distillpub/post--growing-ca, named as ex3_lizard.json;" \
    "see docs/distill.md)"
