"""Loads a module written by `nca export --torch` in Python PyTorch, as a user would, and checks
that it computes what the C++ model computes (reference JSON from nca_reference).

    python3 check_torch.py MODULE.pt REFERENCE.json TRAINING_GRID

Prints one line per check and a closing 'N passed, N failed'; exits 1 on any failure.
"""
import json
import sys

import torch


def main(module_path, ref_path, training_grid):
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        print(("ok: " if ok else "FAIL: ") + what)
        if ok:
            passed += 1
        else:
            failed += 1

    m = torch.jit.load(module_path)
    with open(ref_path) as f:
        ref = json.load(f)
    c, h, w = ref["channels"], ref["height"], ref["width"]
    check(m.channels == c, f"module has {m.channels} channels")
    check(abs(m.alive_threshold - ref["alive_threshold"]) < 1e-12, "alive threshold carried over")
    check(m.training_grid == training_grid,
          f"module records its training grid: {m.training_grid} (expected {training_grid})")

    with torch.no_grad():
        for case in ref["cases"]:
            x = torch.tensor(case["state"], dtype=torch.float32).view(1, c, h, w)
            want = torch.tensor(case["next"], dtype=torch.float32).view(1, c, h, w)
            got = m(x, torch.ones(1, 1, h, w))  # every cell fires: deterministic
            err = (got - want).abs().max().item()
            check(err <= 1e-4, f"one deterministic step from the {case['name']} state: "
                  f"max |python - C++| = {err:.2e} <= 1e-4")

        seed = m.seed(2, h, w)
        want_seed = torch.tensor(ref["cases"][0]["state"], dtype=torch.float32).view(1, c, h, w)
        check(seed.shape == (2, c, h, w) and torch.equal(seed[1:], want_seed),
              "m.seed(2, H, W) gives the C++ seed state")
        x = seed
        for _ in range(60):
            x = m.step(x)  # stochastic: the model's own fire rate
        alive = (x[:, 3] > m.alive_threshold).float().mean().item()
        check(torch.isfinite(x).all().item() and alive > 5.0 / (h * w),
              f"60 stochastic m.step() calls grow the seed ({alive:.3f} of cells alive)")

    params = dict(m.named_parameters())
    count = sum(p.numel() for p in params.values())
    check(count == ref["parameters"] and all(p.requires_grad for p in params.values()),
          f"{count} trainable parameters visible to Python: {', '.join(sorted(params))}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
