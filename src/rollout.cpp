// grow and regen drivers.
#include "nca/rollout.h"

#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "nca/fast_step.h"

namespace nca {

at::Tensor run_steps(NCAModel& model, at::Tensor x, int first_step, int steps, at::Generator& gen,
                     const RunOptions& options, const FrameSink& sink) {
  torch::NoGradGuard no_grad;
  const int every = std::max(1, options.every);
  const bool fast =
      resolve_backend(options.backend, model->config(), x.device()) == Backend::Fast;
  if (sink) sink(first_step, x);
  for (int s = 1; s <= steps; ++s) {
    x = fast ? fast_step(*model, x, gen, options.angle) : model->step(x, gen, options.angle);
    if (sink && (s % every == 0 || s == steps)) sink(first_step + s, x);
  }
  return x;
}

RegenResult regenerate(NCAModel& model, const at::Tensor& target, const CutSpec& cut, int at,
                       int steps,
                       at::Generator& gen, const RunOptions& options, const FrameSink& sink) {
  const auto device = model->parameters().front().device();
  const auto t = target.to(device);
  const int64_t h = target.size(1), w = target.size(2);
  auto loss = [&](const at::Tensor& x) { return per_sample_loss(x, t).item<double>(); };

  auto x = seed_state(1, model->config().channels, h, w, torch::TensorOptions().device(device));
  x = run_steps(model, x, 0, at, gen, options, sink);
  RegenResult r;
  r.loss_before_cut = loss(x);
  const auto mask = cut_mask(cut, h, w, gen).to(device);
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
