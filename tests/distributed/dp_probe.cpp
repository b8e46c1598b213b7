// nca_dp_probe (test-only): data-parallel training's library parts, run as one rank of a world
// set up by torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), for
// tests/distributed/test_data_parallel.sh.
//
//   nca_dp_probe train TARGET OUT [N]  a tiny regenerating run (global batch 8, pool 32), N
//                                   (default 6) iterations with the DataParallel hooks; writes this
//                                   rank's final weights to OUT.rank<R> (raw float32) and prints
//                                   one line per iteration: "iteration loss" (the global loss)
//   nca_dp_probe allreduce N        N all-reduces (averages) of the model's 10,368 gradients;
//                                   rank 0 prints the mean time of one (docs/performance.md)
//   nca_dp_probe gradient TARGET    the gradient of the loss of 8 fixed states over 6 steps with
//                                   fixed fire masks: each rank takes its share of the 8, the
//                                   ranks average; rank 0 compares with the gradient of one
//                                   process on all 8 and prints the largest difference
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <torch/torch.h>

#include "nca/config.h"
#include "nca/distributed.h"
#include "nca/image_io.h"
#include "nca/model.h"
#include "nca/trainer.h"

namespace {

nca::TrainConfig tiny(const std::string& target) {
  nca::TrainConfig c;
  c.target = target;
  c.experiment = nca::Experiment::Regenerating;
  c.size = 12;
  c.pad = 4;
  c.batch = 8;
  c.pool = 32;
  c.min_steps = 8;
  c.max_steps = 12;
  c.damage = 3;
  c.seed = 5;
  c.device = "cpu";
  return c;
}

int train(const nca::LaunchEnv& env, const std::string& target_path, const std::string& out,
          int iterations) {
  const auto global = tiny(target_path);
  const auto cfg = nca::shard_config(global, env.rank, env.world_size);
  nca::ProcessGroup group(env, std::chrono::seconds(60));
  const auto target = nca::target_tensor(nca::load_target(cfg.target, cfg.size, cfg.pad));
  nca::Trainer trainer(cfg, target, torch::kCPU);
  group.broadcast(trainer.model()->parameters());
  nca::DataParallel hooks(group);
  trainer.set_hooks(&hooks);
  for (int k = 0; k < iterations; ++k) {
    const auto s = trainer.step();
    std::printf("%lld %.9g\n", static_cast<long long>(s.iteration), s.loss);
    std::fflush(stdout);
  }
  std::ofstream f(out + ".rank" + std::to_string(env.rank), std::ios::binary);
  for (const auto& p : trainer.model()->parameters()) {
    const auto v = p.detach().contiguous();
    f.write(reinterpret_cast<const char*>(v.data_ptr<float>()),
            static_cast<std::streamsize>(v.numel() * sizeof(float)));
  }
  return f ? 0 : 1;
}

// The mean loss of `states` after `fire.size(0)` steps with those fire masks, backpropagated
// into a fresh copy of the model with weights `init`; returns the gradients.
std::vector<at::Tensor> gradients(const nca::ModelConfig& mc, const std::vector<at::Tensor>& init,
                                  const at::Tensor& states, const at::Tensor& fire,
                                  const at::Tensor& target) {
  at::Generator gen = at::detail::createCPUGenerator(0);
  nca::NCAModel model(mc, gen);
  {
    torch::NoGradGuard no_grad;
    auto params = model->parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(init[i]);
  }
  auto x = states;
  for (int64_t s = 0; s < fire.size(0); ++s) x = model->step(x, fire[s]);
  nca::per_sample_loss(x, target).mean().backward();
  std::vector<at::Tensor> g;
  for (const auto& p : model->parameters()) g.push_back(p.grad().clone());
  return g;
}

int gradient(const nca::LaunchEnv& env, const std::string& target_path) {
  const auto cfg = tiny(target_path);
  const int64_t n = cfg.batch, grid = cfg.grid(), steps = 6;
  const auto target = nca::target_tensor(nca::load_target(cfg.target, cfg.size, cfg.pad));
  // Every rank makes the same 8 states, weights and masks from one seed: grown seeds with
  // random weights (zero-initialised weights would give zero gradients for the first layer).
  at::Generator gen = at::detail::createCPUGenerator(21);
  nca::NCAModel model(cfg.model, gen);
  std::vector<at::Tensor> init;
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) {
      p.copy_(torch::randn(p.sizes(), gen) * 0.05);
      init.push_back(p.detach().clone());
    }
  }
  at::Tensor states = nca::seed_state(n, cfg.model.channels, grid, grid);
  {
    torch::NoGradGuard no_grad;
    for (int s = 0; s < 10; ++s)
      states = model->step(states, nca::fire_mask(n, grid, grid, 0.5, gen));
  }
  std::vector<at::Tensor> masks;
  for (int64_t s = 0; s < steps; ++s) masks.push_back(nca::fire_mask(n, grid, grid, 0.5, gen));
  const auto fire = torch::stack(masks);  // steps x N x 1 x H x W

  const int64_t share = n / env.world_size, lo = env.rank * share;
  auto mine = gradients(cfg.model, init, states.slice(0, lo, lo + share),
                        fire.slice(1, lo, lo + share), target);
  nca::ProcessGroup group(env, std::chrono::seconds(60));
  group.average(mine);
  if (env.rank == 0) {
    const auto all = gradients(cfg.model, init, states, fire, target);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < all.size(); ++i) {
      worst = std::max(worst, (all[i] - mine[i]).abs().max().item<double>());
      scale = std::max(scale, all[i].abs().max().item<double>());
    }
    std::printf("largest gradient difference %.3g (largest gradient %.3g)\n", worst, scale);
  }
  return 0;
}

int allreduce(const nca::LaunchEnv& env, int n) {
  nca::ProcessGroup group(env, std::chrono::seconds(60));
  at::Generator gen = at::detail::createCPUGenerator(1);
  nca::NCAModel model(nca::ModelConfig{}, gen);
  std::vector<at::Tensor> grads;
  for (const auto& p : model->parameters()) grads.push_back(torch::ones_like(p));
  group.average(grads);  // the first connects the ranks' pairs: not counted
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) group.average(grads);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  int64_t count = 0;
  for (const auto& g : grads) count += g.numel();
  if (env.rank == 0)
    std::printf("%d all-reduces of %lld floats over %d ranks: %.3f ms each\n", n,
                static_cast<long long>(count), env.world_size, ms / n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // As nca's main does: Gloo writes to its peers' sockets, and one to a rank that was lost would
  // otherwise end this process with SIGPIPE (exit 141) before the error under test is reported.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    torch::set_num_threads(1);
    const auto env = nca::launch_env_from_environment();
    if (!env || argc < 3) {
      std::cerr << "usage: RANK=.. WORLD_SIZE=.. MASTER_ADDR=.. MASTER_PORT=.. nca_dp_probe "
                   "train TARGET OUT [N] | gradient TARGET | allreduce N\n";
      return 2;
    }
    const std::string mode = argv[1];
    if (mode == "train" && argc > 3)
      return train(*env, argv[2], argv[3], argc > 4 ? std::stoi(argv[4]) : 6);
    if (mode == "gradient") return gradient(*env, argv[2]);
    if (mode == "allreduce") return allreduce(*env, std::stoi(argv[2]));
    std::cerr << "nca_dp_probe: unknown mode '" << mode << "'\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "nca_dp_probe: error: " << e.what() << "\n";
    return 1;
  }
}
