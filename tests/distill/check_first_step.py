"""One deterministic step (every cell fires) of a Distill model file, computed here with numpy
from the JSON alone, written from the format's description (docs/distill.md) and Distill's
notebook, against what nca computed for the same states (nca_reference's JSON).

    python3 check_first_step.py MODEL.json REFERENCE.json

Prints one line per state and exits 1 when any differs by more than 1e-5.
"""
import base64
import json
import sys

import numpy as np


def layer(spec):
    """Weights (in x out) and bias (out) of one layer, dequantised: (byte / 255 - 0.5) * scale."""
    n_in, n_out = spec["in_ch"], spec["out_ch"]
    raw = np.frombuffer(base64.b64decode(spec["data_b64"]), dtype=np.uint8)
    q = raw.reshape(n_in + 1, n_out).astype(np.float64) / 255.0 - 0.5
    return q[:n_in] * spec["weight_scale"], q[n_in] * spec["bias_scale"]


def step(x, w1, b1, w2, b2, threshold):
    """x: C x H x W. Identity, Sobel x / 8 and Sobel y / 8 with zero padding, inputs grouped by
    filter; 1x1 layers; alive masks before and after."""
    c, h, w = x.shape
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64) / 8.0
    def conv(k):
        out = np.zeros_like(x)
        for a in range(3):
            for b in range(3):
                out += k[a, b] * p[:, a:a + h, b:b + w]
        return out
    y = np.concatenate([x, conv(sobel_x), conv(sobel_x.T)])  # (3C) x H x W
    cells = y.reshape(3 * c, -1).T  # cells x 3C
    hidden = np.maximum(cells @ w1 + b1, 0.0)
    dx = (hidden @ w2 + b2).T.reshape(c, h, w)
    def alive(s):
        a = np.pad(s[3], 1, constant_values=-np.inf)
        m = np.max([a[i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=0)
        return m > threshold
    nxt = x + dx
    return nxt * (alive(x) & alive(nxt))


def main(model_path, ref_path):
    with open(model_path) as f:
        layers = json.load(f)
    w1, b1 = layer(layers[0])
    w2, b2 = layer(layers[1])
    with open(ref_path) as f:
        ref = json.load(f)
    c, h, w = ref["channels"], ref["height"], ref["width"]
    failed = 0
    for case in ref["cases"]:
        x = np.array(case["state"], dtype=np.float32).astype(np.float64).reshape(c, h, w)
        want = np.array(case["next"], dtype=np.float64).reshape(c, h, w)
        got = step(x, w1, b1, w2, b2, ref["alive_threshold"])
        err = float(np.abs(got - want).max())
        changed = int((np.abs(got - x) > 1e-6).sum())
        ok = err <= 1e-5 and changed > 0
        failed += not ok
        print(f"{'ok' if ok else 'FAIL'}: the {case['name']} state: max |numpy - nca| = {err:.3g} "
              f"({changed} values changed by the step)")
    print(f"{len(ref['cases']) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
