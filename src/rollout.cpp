// grow and regen drivers.
#include "nca/rollout.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <torch/torch.h>

namespace nca {

at::Tensor run_steps(NCAModel& model, at::Tensor x, int first_step, int steps, at::Generator& gen,
                     const RunOptions& options, const FrameSink& sink) {
  torch::NoGradGuard no_grad;
  const int every = std::max(1, options.every);
  const auto stepper =
      options.stepper ? options.stepper : make_stepper(Backend::Auto, model->config(), x.device());
  if (sink) sink(first_step, x);
  for (int s = 1; s <= steps; ++s) {
    x = stepper->step(*model, x, gen, options.angle);
    if (sink && (s % every == 0 || s == steps)) sink(first_step + s, x);
  }
  return x;
}

at::Tensor on_grid(const at::Tensor& t, int64_t height, int64_t width, double angle) {
  using torch::indexing::Slice;
  const int64_t h0 = t.size(-2), w0 = t.size(-1);
  at::Tensor out;
  if (h0 == height && w0 == width) {
    out = t;
  } else {
    auto sizes = t.sizes().vec();
    sizes[sizes.size() - 2] = height;
    sizes[sizes.size() - 1] = width;
    out = torch::zeros(sizes, t.options());
    // Cell (y, x) of t lands on (y + dy, x + dx): seed cell on seed cell.
    const int64_t dy = height / 2 - h0 / 2, dx = width / 2 - w0 / 2;
    const int64_t y0 = std::max<int64_t>(0, -dy), y1 = std::min(h0, height - dy);
    const int64_t x0 = std::max<int64_t>(0, -dx), x1 = std::min(w0, width - dx);
    if (y0 < y1 && x0 < x1)
      out.index_put_({"...", Slice(y0 + dy, y1 + dy), Slice(x0 + dx, x1 + dx)},
                     t.index({"...", Slice(y0, y1), Slice(x0, x1)}));
  }
  if (angle == 0.0) return out;
  // A perception rotated by `angle` sees at p what the unrotated one sees at the seed cell plus
  // R(angle) (p - seed): the output cell p samples that point (grid_sample, cell centres at the
  // ends of [-1, 1]).
  const double c = std::cos(angle), s = std::sin(angle);
  const double cy = static_cast<double>(height / 2), cx = static_cast<double>(width / 2);
  const auto opts = torch::TensorOptions().dtype(torch::kDouble);
  const auto ys = torch::arange(height, opts).view({height, 1}) - cy;
  const auto xs = torch::arange(width, opts).view({1, width}) - cx;
  const auto src_x = cx + c * xs - s * ys, src_y = cy + s * xs + c * ys;
  const auto grid = torch::stack({2 * src_x / static_cast<double>(width - 1) - 1,
                                  2 * src_y / static_cast<double>(height - 1) - 1},
                                 -1)
                        .unsqueeze(0)
                        .to(t.options());
  const auto flat = out.reshape({1, -1, height, width});
  const auto turned = torch::grid_sampler(flat, grid, /*bilinear*/ 0, /*zeros*/ 0,
                                          /*align_corners*/ true);
  return turned.view(out.sizes());
}

RegenResult regenerate(NCAModel& model, const at::Tensor& target, const CutSpec& cut, int at,
                       int steps, at::Generator& gen, const RunOptions& options,
                       const FrameSink& sink) {
  const auto device = model->parameters().front().device();
  const bool own = !target.defined();
  if (own && (options.height <= 0 || options.width <= 0))
    throw std::invalid_argument("regenerate: without a target, the grid must be given");
  const int64_t h = options.height > 0 ? options.height : target.size(1);
  const int64_t w = options.width > 0 ? options.width : target.size(2);
  auto t = own ? at::Tensor() : on_grid(target, h, w, options.angle).to(device);
  auto loss = [&](const at::Tensor& x) { return per_sample_loss(x, t).item<double>(); };

  auto x = seed_state(1, model->config().channels, h, w, torch::TensorOptions().device(device));
  x = run_steps(model, x, 0, at, gen, options, sink);
  if (own) t = x.slice(1, 0, 4).squeeze(0).clone();
  RegenResult r;
  r.loss_before_cut = loss(x);
  const auto mask = (cut.kind == Cut::Circle && !own
                         ? on_grid(cut_mask(cut, target.size(1), target.size(2), gen), h, w)
                         : cut_mask(cut, h, w, gen))
                        .to(device);
  r.cells_removed = (x.select(1, 3).unsqueeze(1) > 0.1).logical_and(mask > 0).sum().item<int64_t>();
  x = x * (1.0 - mask);
  r.loss_after_cut = loss(x);
  // The cut state replaces the last frame: the sink sees the damage before the healing.
  x = run_steps(model, x, at, steps, gen, options, sink);
  r.loss_end = loss(x);
  const double removed = r.loss_after_cut - r.loss_before_cut;
  // Faint cells below the alive threshold move the loss a little even when nothing living was
  // cut; a ratio of such changes means nothing.
  r.recovered = removed > 0 && r.cells_removed > 0 ? (r.loss_after_cut - r.loss_end) / removed
                                                   : std::numeric_limits<double>::quiet_NaN();
  return r;
}

}  // namespace nca
