"""nca's model and training (docs/design.md §1-2) in plain, eager PyTorch: what `nca bench` is
measured against (scripts/bench-vs-reference.sh), and the model that check_training.py replays
nca's iterations with. Written from the design text, not translated from nca's C++: autograd
keeps every intermediate of every rollout step, and every cell is computed, as a straightforward
PyTorch implementation does.

    python3 reference.py --target data/lizard.png [--experiment regenerating] [--iters 8000]
                         [--threads 2] [--device cpu|cuda[:K]] [--compile] [--log-every 10]

Prints `iter I loss L log10 G steps S Ts` every --log-every iterations and a closing
`summary: iters=N sec_per_iter=... cell_steps_per_s=... peak_rss_mb=...` (the timing leaves out
the first iteration). Needs torch, and PIL to read the target.
"""
import argparse
import math
import resource
import time

import torch
import torch.nn.functional as F


def seed_state(n, channels, size):
    """All zeros but the centre cell (size // 2, size // 2), whose channels 3.. are 1."""
    x = torch.zeros(n, channels, size, size)
    x[:, 3:, size // 2, size // 2] = 1.0
    return x


def perception_filters(channels):
    """identity, sobel_x / 8, sobel_y / 8 (the transpose of sobel_x), laplace / 8 per channel,
    channel-major: (channels * 4) x 1 x 3 x 3 for a depthwise convolution."""
    identity = torch.tensor([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]])
    sobel_x = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 8
    sobel_y = sobel_x.t()
    laplace = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]) / 8
    bank = torch.stack([identity, sobel_x, sobel_y, laplace])  # 4 x 3 x 3
    return bank.repeat(channels, 1, 1).unsqueeze(1)


class Automaton(torch.nn.Module):
    def __init__(self, channels, hidden, fire_rate, alive_threshold):
        super().__init__()
        self.channels = channels
        self.fire_rate = fire_rate
        self.alive_threshold = alive_threshold
        self.register_buffer("filters", perception_filters(channels))
        self.conv1 = torch.nn.Conv2d(channels * 4, hidden, 1)
        self.conv2 = torch.nn.Conv2d(hidden, channels, 1, bias=False)
        torch.nn.init.zeros_(self.conv2.weight)

    def alive(self, x):
        return F.max_pool2d(x[:, 3:4], 3, stride=1, padding=1) > self.alive_threshold

    def step(self, x, fire):
        """One stochastic update with the given fire mask (N x 1 x H x W of 0/1)."""
        before = self.alive(x)
        perceived = F.conv2d(x, self.filters, padding=1, groups=self.channels)
        dx = self.conv2(torch.relu(self.conv1(perceived)))
        x = x + dx * fire
        after = self.alive(x)
        return x * (before & after).float()


def per_sample_loss(x, target):
    """Mean over RGBA x H x W of the squared difference to the target: one value per sample."""
    return ((x[:, :4] - target) ** 2).mean(dim=(1, 2, 3))


def load_target(path, size, pad):
    """RGBA, shrunk to fit size x size with its aspect ratio kept, premultiplied, centred on a
    grid of size + 2 pad: 4 x grid x grid."""
    from PIL import Image

    img = Image.open(path).convert("RGBA")
    img.thumbnail((size, size), Image.LANCZOS)
    rgba = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).float() / 255
    rgba = rgba.reshape(img.height, img.width, 4).permute(2, 0, 1)
    rgba[:3] *= rgba[3:4]
    grid = size + 2 * pad
    target = torch.zeros(4, grid, grid)
    top, left = (grid - img.height) // 2, (grid - img.width) // 2
    target[:, top:top + img.height, left:left + img.width] = rgba
    return target


def damage_discs(n, grid, gen):
    """n masks (n x 1 x grid x grid) of 1 inside a disc: centre uniform in [-0.5, 0.5]^2, radius
    uniform in [0.1, 0.4], in coordinates where the grid spans [-1, 1]."""
    coords = torch.linspace(-1, 1, grid)
    y, x = coords.view(1, grid, 1), coords.view(1, 1, grid)
    centre = torch.rand(n, 2, generator=gen) - 0.5
    radius = 0.1 + 0.3 * torch.rand(n, generator=gen)
    d2 = (x - centre[:, 0].view(n, 1, 1)) ** 2 + (y - centre[:, 1].view(n, 1, 1)) ** 2
    return (d2 < radius.view(n, 1, 1) ** 2).float().unsqueeze(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", required=True)
    ap.add_argument("--experiment", choices=["growing", "persistent", "regenerating"],
                    default="regenerating")
    ap.add_argument("--iters", type=int, default=8000)
    ap.add_argument("--size", type=int, default=40)
    ap.add_argument("--pad", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--pool", type=int, default=1024)
    ap.add_argument("--min-steps", type=int, default=64)
    ap.add_argument("--max-steps", type=int, default=96, help="exclusive")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:K]")
    ap.add_argument("--compile", action="store_true", help="torch.compile the step (PyTorch 2.x)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    gen = torch.Generator().manual_seed(args.seed)  # pool, damage, rollout lengths
    fire_gen = torch.Generator(device=dev).manual_seed(args.seed + 1)  # fire masks, on the device
    channels, grid = 16, args.size + 2 * args.pad
    target = load_target(args.target, args.size, args.pad).to(dev)
    torch.manual_seed(args.seed)  # the first layer's initialisation
    model = Automaton(channels, args.hidden, 0.5, 0.1).to(dev)
    step = torch.compile(model.step) if args.compile else model.step
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimiser, [2000], 0.1)
    seed = seed_state(1, channels, grid).to(dev)
    pool = seed.repeat(args.pool, 1, 1, 1)
    damaged = 3 if args.experiment == "regenerating" else 0

    t_start, cell_steps = None, 0
    for it in range(args.iters):
        t0 = time.perf_counter()
        if args.experiment == "growing":
            idx = None
            x = seed.repeat(args.batch, 1, 1, 1)
        else:
            idx = torch.randperm(args.pool, generator=gen)[:args.batch].to(dev)
            x = pool[idx]
            order = per_sample_loss(x, target).argsort(descending=True)
            idx, x = idx[order], x[order]
            x[0] = seed[0]
            if damaged:
                x[-damaged:] *= 1 - damage_discs(damaged, grid, gen).to(dev)
        steps = int(torch.randint(args.min_steps, args.max_steps, (1,), generator=gen))
        for _ in range(steps):
            fire = (torch.rand(args.batch, 1, grid, grid, generator=fire_gen, device=dev) <= 0.5)
            x = step(x, fire.float())
        loss = per_sample_loss(x, target).mean()
        optimiser.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p.grad /= p.grad.norm() + 1e-8
        optimiser.step()
        schedule.step()
        if idx is not None:
            pool[idx] = x.detach()
        loss_v = loss.item()  # waits for the device
        dt = time.perf_counter() - t0
        if it == 0:
            t_start = time.perf_counter()
        else:
            cell_steps += args.batch * grid * grid * steps
        if it % args.log_every == 0 or it == args.iters - 1:
            print(f"iter {it} loss {loss_v:.5f} log10 {math.log10(loss_v):.3f} steps {steps} "
                  f"{dt:.3f}s", flush=True)
    elapsed = time.perf_counter() - t_start if args.iters > 1 else float("nan")
    n = max(args.iters - 1, 1)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = (f" peak_cuda_mb={torch.cuda.max_memory_allocated(dev) / 2**20:.0f}"
           if dev.type == "cuda" else "")
    print(f"summary: iters={args.iters} sec_per_iter={elapsed / n:.4f} "
          f"cell_steps_per_s={cell_steps / elapsed:.4g} final_loss={loss_v:.6g} "
          f"log10_loss={math.log10(loss_v):.4f} peak_rss_mb={rss:.0f}{gpu}")


if __name__ == "__main__":
    main()
