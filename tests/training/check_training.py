"""An independent check of nca's training: docs/design.md §1-2 written afresh in PyTorch (not
translated from nca's C++), replaying the iterations nca_train_trace ran, from nca's initial
weights and with what nca drew at random (pool indices, damage circles, rollout lengths, fire
masks). Everything else is computed here: the pool and its write-back, the order by loss, which
sample is reseeded and which are damaged, perception, update, alive masks, loss, gradient
normalisation, Adam and the learning-rate schedule. Then this is compared with nca: the batch
each rollout starts from, the loss, the weights after each update, and the pool at the end.

    python3 check_training.py TRACE_DIR

Prints one line per check and a closing 'N passed, N failed'; exits 1 on any failure.
"""
import json
import math
import os
import sys

import numpy as np
import torch

from reference import Automaton, per_sample_loss, seed_state

LOSS_RTOL = 1e-4  # loss: relative
WEIGHT_ATOL = 1e-5  # weights (about 0.1 in size, Adam moves them by lr = 2e-3 a step): absolute
STATE_ATOL = 1e-4  # pool states (about 1 in size): absolute


def load(trace_dir, name, shape):
    a = np.fromfile(os.path.join(trace_dir, name), dtype="<f4")
    return torch.from_numpy(a.reshape(shape).copy())


# The model (docs/design.md §1) is reference.py's: Automaton, seed_state, per_sample_loss.


# --- The checks ---------------------------------------------------------------------------------


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, what):
        print(("ok: " if ok else "FAIL: ") + what)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok


def max_diff(a, b):
    return (a - b).abs().max().item() if a.numel() else 0.0


def check_damage_masks(check, masks, grid, it):
    """Each mask is a disc with its centre in [-0.5, 0.5]^2 and radius in [0.1, 0.4], in
    coordinates where the grid spans [-1, 1] (to within a cell: the disc is rasterised)."""
    cell = 2.0 / (grid - 1)
    coords = torch.linspace(-1, 1, grid)
    ok = bool(((masks == 0) | (masks == 1)).all())
    for m in masks[:, 0]:
        ys, xs = torch.nonzero(m, as_tuple=True)
        if len(ys) == 0:
            continue  # a disc small enough to hold no cell centre
        cy, cx = coords[ys].mean().item(), coords[xs].mean().item()
        extent = max(coords[ys].max() - coords[ys].min(), coords[xs].max() - coords[xs].min())
        ok &= abs(cx) <= 0.5 + cell and abs(cy) <= 0.5 + cell and extent.item() <= 0.8 + cell
    check(ok, f"iteration {it}: the {len(masks)} damage masks are discs of the specified sizes")


def main(trace_dir):
    with open(os.path.join(trace_dir, "run.json")) as f:
        run = json.load(f)
    check = Checks()
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    grid, channels = run["grid"], run["channels"]
    n, d = run["batch"], run["damage"]
    target = load(trace_dir, "target.bin", run["target"])

    model = Automaton(channels, run["hidden"], run["fire_rate"], run["alive_threshold"])
    params = dict(model.named_parameters())
    check(sorted(params) == sorted(run["init"]), f"the same parameters: {sorted(run['init'])}")
    for name, shape in run["init"].items():
        params[name].copy_(load(trace_dir, f"init_{name}.bin", shape))
    optimiser = torch.optim.Adam(model.parameters(), lr=run["lr"])

    seed = seed_state(1, channels, grid)[0]
    pool = seed_state(run["pool"], channels, grid)
    fired = cells = 0
    for it, rec in enumerate(run["iterations"]):
        # The batch: nca's pool indices, in nca's order; that order must be highest loss first
        # by the losses of this pool (ties are equal states, in any order).
        idx = torch.tensor(rec["indices"], dtype=torch.long)
        check(len(set(rec["indices"])) == n and len(idx) == n,
              f"iteration {it}: {n} distinct pool indices")
        x0 = pool[idx].clone()
        losses = per_sample_loss(x0, target)
        check(bool((losses[:-1] >= losses[1:] - 1e-7 * losses[1:]).all()),
              f"iteration {it}: the batch is in order of loss, highest first "
              f"({', '.join(f'{v:.5f}' for v in losses.tolist())})")
        x0[0] = seed  # the highest-loss sample is replaced by a seed
        if d > 0:
            damage = load(trace_dir, f"damage_{it}.bin", rec["damage"])
            check_damage_masks(check, damage, grid, it)
            x0[n - d:] *= 1 - damage  # the d lowest-loss samples are cut
        batch = load(trace_dir, f"batch_{it}.bin", rec["batch"])
        check(max_diff(batch, x0) <= 1e-6,
              f"iteration {it}: nca's rollout starts from the same batch "
              f"(max difference {max_diff(batch, x0):.2e})")

        fire = load(trace_dir, f"fire_{it}.bin", rec["fire"])  # steps x N x H x W
        steps = fire.shape[0]
        check(run["min_steps"] <= steps < run["max_steps"] and steps == rec["steps"],
              f"iteration {it}: {steps} steps, in [{run['min_steps']}, {run['max_steps']})")
        fired += fire.sum().item()
        cells += fire.numel()

        lr = run["lr"] * (run["lr_decay"] if it >= run["lr_decay_at"] else 1.0)
        for group in optimiser.param_groups:
            group["lr"] = lr
        check(math.isclose(rec["lr"], lr, rel_tol=1e-12), f"iteration {it}: lr {lr:g}")
        with torch.enable_grad():
            x = x0
            for s in range(steps):
                x = model.step(x, fire[s].unsqueeze(1))
            loss = per_sample_loss(x, target).mean()
            optimiser.zero_grad()
            loss.backward()
        for p in model.parameters():
            p.grad /= p.grad.norm() + 1e-8
        optimiser.step()
        pool[idx] = x.detach()

        rel = abs(loss.item() - rec["loss"]) / loss.item()
        check(rel <= LOSS_RTOL,
              f"iteration {it}: loss {rec['loss']:.7f} (nca) vs {loss.item():.7f} (here), "
              f"relative difference {rel:.1e}")
        for name, shape in rec["weights"].items():
            diff = max_diff(load(trace_dir, f"iter_{it}_{name}.bin", shape), params[name])
            check(diff <= WEIGHT_ATOL,
                  f"iteration {it}: {name} after the update, max difference {diff:.1e}")

    rate = fired / cells
    sd = math.sqrt(run["fire_rate"] * (1 - run["fire_rate"]) / cells)
    check(abs(rate - run["fire_rate"]) <= max(0.01, 6 * sd),
          f"fire masks: {rate:.4f} of {cells} cells fired, fire rate {run['fire_rate']}")
    nca_pool = load(trace_dir, "pool.bin", run["pool_states"])
    check(max_diff(nca_pool, pool) <= STATE_ATOL,
          f"the pool at the end, with the rollouts written back "
          f"(max difference {max_diff(nca_pool, pool):.1e})")

    print(f"{check.passed} passed, {check.failed} failed")
    return 0 if check.failed == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
