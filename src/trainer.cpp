// The training loop of docs/design.md §2: pool sampling, reseeding, damage, rollout, normalised
// gradients, Adam with a step decay.
#include "nca/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include <torch/torch.h>

#include "nca/checkpoint.h"
#include "nca/config_file.h"
#include "nca/damage.h"
#include "nca/device.h"
#include "nca/errors.h"
#include "nca/pool_file.h"
#include "nca/torch_compat.h"

namespace nca {

bool normalize_gradients(const std::vector<at::Tensor>& parameters) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const auto& p : parameters)
    norms.push_back(p.grad().defined() ? p.grad().norm() : torch::zeros({}));
  for (const auto& n : norms)
    if (!std::isfinite(n.item<double>())) return false;
  for (size_t i = 0; i < parameters.size(); ++i)
    if (parameters[i].grad().defined()) parameters[i].grad().div_(norms[i] + 1e-8);
  return true;
}

bool Trainer::parameters_finite() const {
  torch::NoGradGuard no_grad;
  for (const auto& p : model_->parameters())
    if (!torch::isfinite(p).all().item<bool>()) return false;
  return true;
}

// Deep copies: Adam updates its moments in place, so a shallow copy would change with them.
Trainer::OptimizerSnapshot Trainer::snapshot_optimizer() const {
  torch::NoGradGuard no_grad;
  OptimizerSnapshot s;
  for (const auto& p : model_->parameters()) {
    s.weights.push_back(p.detach().clone());
    const auto key = optimizer_state_key(p);
    const auto it = optimizer_->state().find(key);
    if (it == optimizer_->state().end()) {
      s.moments.emplace_back();
      continue;
    }
    const auto& st = static_cast<const torch::optim::AdamParamState&>(*it->second);
    s.moments.push_back(AdamMoments{st.step(), st.exp_avg().clone(), st.exp_avg_sq().clone()});
  }
  return s;
}

void Trainer::restore_optimizer(const OptimizerSnapshot& s) {
  torch::NoGradGuard no_grad;
  const auto params = model_->parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    params[i].copy_(s.weights[i]);
    const auto key = optimizer_state_key(params[i]);
    auto& state = optimizer_->state();
    if (!s.moments[i]) {
      state.erase(key);  // the first step created it
      continue;
    }
    auto& st = static_cast<torch::optim::AdamParamState&>(*state.find(key)->second);
    st.step(s.moments[i]->step);
    st.exp_avg().copy_(s.moments[i]->exp_avg);
    st.exp_avg_sq().copy_(s.moments[i]->exp_avg_sq);
  }
}

Trainer::Trainer(const TrainConfig& cfg, const at::Tensor& target, const torch::Device& device)
    : cfg_(cfg), device_(device), gen_(at::detail::createCPUGenerator(cfg.seed)) {
  cfg_.validate();
  use_device(device_);
  const int64_t g = cfg_.grid();
  if (target.dim() != 3 || target.size(0) != 4 || target.size(1) != g || target.size(2) != g)
    throw std::invalid_argument("target must be 4 x " + std::to_string(g) + " x " +
                                std::to_string(g));
  target_ = target.to(device_, torch::kFloat);
  seed_ = seed_state(1, cfg_.model.channels, g, g)[0];
  stepper_ = make_stepper(cfg_.backend, cfg_.model, device_);
  model_ = NCAModel(cfg_.model, gen_);
  model_->to(device_);
  optimizer_ = std::make_unique<torch::optim::Adam>(model_->parameters(),
                                                    torch::optim::AdamOptions(cfg_.lr));
  if (cfg_.uses_pool()) pool_ = std::make_unique<SamplePool>(cfg_.pool, seed_);
}

IterationStats Trainer::step() {
  using torch::indexing::Slice;
  const auto t0 = std::chrono::steady_clock::now();
  const double lr = cfg_.lr_at(iteration_);
  for (auto& group : optimizer_->param_groups())
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);

  const int64_t n = cfg_.batch, g = cfg_.grid();
  if (trace_) *trace_ = IterationTrace{};
  // An abandoned iteration puts this back, so that its draws never happened.
  const at::Tensor gen_before = stop_ ? gen_.get_state() : at::Tensor();
  at::Tensor indices, x0;
  if (pool_) {
    auto batch = pool_->sample(n, gen_);
    x0 = batch.states.to(device_);
    // Highest loss first: that sample is reseeded (data-parallel: on one rank an iteration),
    // the lowest-loss ones are damaged.
    at::Tensor order;
    {
      torch::NoGradGuard no_grad;
      // A stable sort: equal losses (the early pool is full of identical seeds) keep their
      // sampled order on every device, where CUDA's sort of a few keys would permute them.
      order = std::get<1>(torch::sort(per_sample_loss(x0, target_), /*stable=*/true, /*dim=*/0,
                                      /*descending=*/true));
    }
    indices = batch.indices.index_select(0, order.cpu());
    x0 = x0.index_select(0, order);
    if (cfg_.reseeds_at(iteration_)) x0[0].copy_(seed_);
    if (const int d = cfg_.damaged_per_batch(); d > 0) {
      const auto masks = circle_masks(d, g, g, gen_);
      if (trace_) trace_->damage = masks;
      x0.index({Slice(n - d)}).mul_(1.0 - masks.to(device_));
    }
    if (trace_) trace_->indices = indices;
  } else {
    x0 = seed_.unsqueeze(0).repeat({n, 1, 1, 1}).to(device_);
  }
  if (trace_) trace_->batch = x0.cpu().clone();

  int steps = static_cast<int>(
      torch::randint(cfg_.min_steps, cfg_.max_steps, {1}, gen_, torch::kLong).item<int64_t>());
  if (hooks_) steps = hooks_->rollout_steps(steps);
  auto x = x0;
  // Every stepper gets the same fire masks, drawn from gen_ in the same order.
  const auto abandon = [&] {
    gen_.set_state(gen_before);
    IterationStats stats;
    stats.iteration = iteration_;
    stats.abandoned = true;
    return stats;
  };
  const auto stop_requested = [&] { return stop_ && stop_->load(std::memory_order_relaxed); };
  // The rollout's fire masks in one draw and one copy to the device, not a wait at every step.
  const auto fires = fire_masks(steps, n, g, g, cfg_.model.fire_rate, gen_, device_);
  for (int s = 0; s < steps; ++s) {
    // Data-parallel ranks cannot stop at different steps (their collectives would not match):
    // they agree on it after the rollout.
    if (!hooks_ && stop_requested()) return abandon();
    const auto fire = fires[s];
    if (trace_) trace_->fire.push_back(fire.cpu());
    x = stepper_->step(*model_, x, fire);
  }

  auto loss = per_sample_loss(x, target_).mean();
  optimizer_->zero_grad();
  loss.backward();
  // Anything non-finite would poison the weights, Adam's moments or the pool for good, and be
  // saved into model.pt and pool.pt: the iteration is skipped instead, and the last good state
  // stays (or is put back, when the optimiser step itself overflowed).
  const char* skip = nullptr;
  if (!std::isfinite(loss.item<double>()))
    skip = "the loss is not finite";
  else if (!torch::isfinite(x.detach()).all().item<bool>())
    skip = "a state is not finite";
  if (hooks_) {
    // Both collectives on every rank, whatever it found, so that they stay matched; after the
    // reduction the gradients, and so the normalisation and the step, are the same everywhere.
    const auto agreed = hooks_->agree(skip == nullptr, stop_requested());
    if (agreed.any_stop) return abandon();
    if (!agreed.all_ok && !skip) skip = "another rank's loss or state is not finite";
    std::vector<at::Tensor> grads;
    for (const auto& p : model_->parameters()) grads.push_back(p.mutable_grad());
    hooks_->reduce_gradients(grads);
  }
  if (!skip && !normalize_gradients(model_->parameters())) skip = "a gradient is not finite";
  if (!skip) {
    const auto saved = snapshot_optimizer();
    optimizer_->step();
    if (!parameters_finite()) {
      restore_optimizer(saved);
      skip = "the update made a weight non-finite";
    }
  }
  if (!skip && pool_) pool_->commit(indices, x.detach().cpu());

  last_before_ = x0.detach();
  last_after_ = x.detach();
  IterationStats stats;
  stats.iteration = iteration_++;
  stats.loss = hooks_ ? hooks_->reduce_loss(loss.item<double>()) : loss.item<double>();
  stats.log10_loss = std::log10(stats.loss);
  stats.steps = steps;
  stats.lr = lr;
  stats.skipped = skip != nullptr;
  if (skip) stats.skip_reason = skip;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

void Trainer::save(const std::string& model_path, const std::string& pool_path) const {
  // pool.pt first, model.pt last: model.pt is the commit point. When the pool cannot be written
  // (a full disk), model.pt still holds the previous save, and the pair stays consistent; only a
  // failure between the two leaves a pool one save newer than the model, which load() accepts
  // and reports (pool states are valid training states whatever their age).
  if (pool_ && !pool_path.empty())
    write_pool_file(pool_path, *pool_, iteration_, {cfg_.to_toml(), cfg_.rank});
  CheckpointInfo info;
  info.iteration = iteration_;
  info.model = cfg_.model;
  info.train_config = cfg_.to_toml();
  info.target = target_;
  save_checkpoint(model_path, model_, info, optimizer_.get(), &gen_);
}

void Trainer::check_pool_origin(const std::string& path, const PoolOrigin& origin) const {
  const std::string what = "cannot load pool '" + path + "': ";
  if (origin.rank >= 0 && origin.rank != cfg_.rank)
    throw std::runtime_error(what + "it is rank " + std::to_string(origin.rank) +
                             "'s share of the pool, not rank " + std::to_string(cfg_.rank) +
                             "'s: each process resumes its own");
  if (origin.config.empty()) return;  // saved before pools said whose they are
  TrainConfig made;
  try {
    made = parse_train_config(origin.config);
  } catch (const UsageError&) {
    return;  // keys of another version: the shape check below still holds
  }
  std::string differ;
  std::error_code ec;
  for (const ConfigChange& c : config_changes(made, cfg_)) {
    if (!fixed_on_resume(c.key)) continue;
    if (c.key == "target" && std::filesystem::equivalent(made.target, cfg_.target, ec)) continue;
    differ += (differ.empty() ? "" : "; ") + c.key + " = " + excerpt(c.before) + ", not " +
              excerpt(c.after);
  }
  if (!differ.empty())
    throw std::runtime_error(what + "it is another run's (" + differ +
                             "): put this run's pool back, or go on with a new pool of seeds "
                             "with --new-pool");
}

Trainer::LoadResult Trainer::load(const std::string& model_path, const std::string& pool_path) {
  auto info = load_checkpoint(model_path, model_, optimizer_.get(), &gen_);
  iteration_ = info.iteration;
  LoadResult result;
  std::error_code ec;
  if (pool_ && !pool_path.empty() && std::filesystem::exists(pool_path, ec)) {
    auto file = read_pool_file(pool_path);
    check_pool_origin(pool_path, file.origin);
    if (file.pool.shape() != pool_->shape())
      throw std::runtime_error("cannot load pool '" + pool_path + "': pool of shape " +
                               c10::str(at::IntArrayRef(file.pool.shape())) +
                               " does not fit this run's pool " +
                               c10::str(at::IntArrayRef(pool_->shape())));
    *pool_ = std::move(file.pool);
    result.pool_iteration = file.iteration;
    result.pool_loaded = true;
  }
  return result;
}

}  // namespace nca
