// The training loop of DESIGN §2: pool sampling, reseeding, damage, rollout, normalised
// gradients, Adam with a step decay.
#include "nca/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include <torch/torch.h>

#include "nca/atomic_file.h"
#include "nca/checkpoint.h"
#include "nca/damage.h"

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

Trainer::Trainer(const TrainConfig& cfg, const at::Tensor& target, const torch::Device& device)
    : cfg_(cfg), device_(device), gen_(at::detail::createCPUGenerator(cfg.seed)) {
  cfg_.validate();
  const int64_t g = cfg_.grid();
  if (target.dim() != 3 || target.size(0) != 4 || target.size(1) != g || target.size(2) != g)
    throw std::invalid_argument("target must be 4 x " + std::to_string(g) + " x " +
                                std::to_string(g));
  target_ = target.to(device_, torch::kFloat);
  seed_ = seed_state(1, cfg_.model.channels, g, g)[0];
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
  at::Tensor indices, x0;
  if (pool_) {
    auto batch = pool_->sample(n, gen_);
    x0 = batch.states.to(device_);
    // Highest loss first: that sample is reseeded, the lowest-loss ones are damaged.
    at::Tensor order;
    {
      torch::NoGradGuard no_grad;
      order = torch::argsort(per_sample_loss(x0, target_), /*dim=*/0, /*descending=*/true);
    }
    indices = batch.indices.index_select(0, order.cpu());
    x0 = x0.index_select(0, order);
    x0[0].copy_(seed_);
    if (const int d = cfg_.damaged_per_batch(); d > 0)
      x0.index({Slice(n - d)}).mul_(1.0 - circle_masks(d, g, g, gen_).to(device_));
  } else {
    x0 = seed_.unsqueeze(0).repeat({n, 1, 1, 1}).to(device_);
  }

  const int steps = static_cast<int>(
      torch::randint(cfg_.min_steps, cfg_.max_steps, {1}, gen_, torch::kLong).item<int64_t>());
  auto x = x0;
  for (int s = 0; s < steps; ++s) x = model_->step(x, gen_);

  auto loss = per_sample_loss(x, target_).mean();
  optimizer_->zero_grad();
  loss.backward();
  // A non-finite loss or gradient would poison the weights, Adam's moments and the pool for
  // good: skip the update instead, leaving the last good state in place.
  const bool finite =
      std::isfinite(loss.item<double>()) && normalize_gradients(model_->parameters());
  if (finite) {
    optimizer_->step();
    if (pool_) pool_->commit(indices, x.detach().cpu());
  }

  last_before_ = x0.detach().cpu();
  last_after_ = x.detach().cpu();
  IterationStats stats;
  stats.iteration = iteration_++;
  stats.loss = loss.item<double>();
  stats.log10_loss = std::log10(stats.loss);
  stats.steps = steps;
  stats.lr = lr;
  stats.skipped = !finite;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

void Trainer::save(const std::string& model_path, const std::string& pool_path) const {
  CheckpointInfo info;
  info.iteration = iteration_;
  info.model = cfg_.model;
  info.train_config = cfg_.to_toml();
  info.target = target_;
  save_checkpoint(model_path, model_, info, optimizer_.get(), &gen_);
  if (pool_ && !pool_path.empty()) {
    write_atomically(pool_path, [&](const std::string& tmp) {
      torch::serialize::OutputArchive archive;
      archive.write("states", pool_->states());
      archive.save_to(tmp);
    });
  }
}

void Trainer::load(const std::string& model_path, const std::string& pool_path) {
  auto info = load_checkpoint(model_path, model_, optimizer_.get(), &gen_);
  iteration_ = info.iteration;
  std::error_code ec;
  if (pool_ && !pool_path.empty() && std::filesystem::exists(pool_path, ec)) {
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(pool_path);
      at::Tensor states;
      archive.read("states", states);
      pool_->set_states(states);
    } catch (const c10::Error& e) {
      throw std::runtime_error("cannot load pool '" + pool_path + "': corrupt or truncated");
    } catch (const std::runtime_error& e) {
      throw std::runtime_error("cannot load pool '" + pool_path + "': " + e.what());
    }
  }
}

}  // namespace nca
