// CUDA against the CPU (docs/design.md §6): the same step, the same training, checkpoints that
// cross devices. They run only where LibTorch sees a GPU; elsewhere each says why it did nothing.
#include <torch/torch.h>
#include "catch.h"

#include "nca/checkpoint.h"
#include "nca/device.h"
#include "nca/fast_step.h"
#include "nca/model.h"
#include "nca/torch_compat.h"
#include "nca/trainer.h"
#include "test_util.h"

using nca::test::square_target;

namespace {

// Ends a test case where LibTorch sees no GPU (a CPU-only LibTorch, or a machine without one).
#define REQUIRE_GPU()                                                              \
  if (!torch::cuda::is_available())                                                \
  NCA_SKIP(                                                                        \
      "skipped: no CUDA GPU visible to this LibTorch (a CPU-only LibTorch, or no " \
      "GPU); this test runs only on a GPU machine")

nca::NCAModel shipped_model() {
  return nca::load_model(nca::test::source_path("data/models/lizard-regenerating.pt"));
}

// size 6, pad 3: a 12 x 12 grid with an opaque red square target.
nca::TrainConfig tiny_config() {
  nca::TrainConfig c;
  c.experiment = nca::Experiment::Regenerating;
  c.size = 6;
  c.pad = 3;
  c.batch = 4;
  c.pool = 16;
  c.min_steps = 8;
  c.max_steps = 12;
  c.damage = 1;
  c.seed = 3;
  c.backend = nca::Backend::Torch;  // the CPU's fast step is checked against it elsewhere
  return c;
}

}  // namespace

TEST_CASE("cuda: one step equals the CPU step within 1e-5 on the same fire masks", "[cuda]") {
  REQUIRE_GPU();
  nca::use_device(torch::kCUDA);  // TF32 off: with it, a step is off by about 1e-4
  torch::NoGradGuard no_grad;
  auto cpu = shipped_model();
  auto gpu = shipped_model();
  gpu->to(torch::kCUDA);
  auto gen = at::detail::createCPUGenerator(7);
  auto x = nca::seed_state(2, 16, 72, 72);
  for (int i = 0; i < 60; ++i) x = cpu->step(x, gen);  // a grown, non-trivial state
  for (int i = 0; i < 5; ++i) {
    const auto fire = nca::fire_mask(2, 72, 72, 0.5, gen);
    const auto want = cpu->step(x, fire);
    const auto got = gpu->step(x.to(torch::kCUDA), fire.to(torch::kCUDA)).cpu();
    CHECK((got - want).abs().max().item<double>() <= 1e-5);
    x = want;
  }
}

TEST_CASE("cuda: 50 training iterations follow the CPU loss curve within 1e-3 relative", "[cuda]") {
  REQUIRE_GPU();
  const auto cfg = tiny_config();
  nca::Trainer cpu(cfg, square_target(cfg), torch::kCPU);
  nca::Trainer gpu(cfg, square_target(cfg), torch::kCUDA);
  double worst = 0;
  for (int i = 0; i < 50; ++i) {
    const double a = cpu.step().loss, b = gpu.step().loss;
    worst = std::max(worst, std::abs(a - b) / a);
  }
  INFO("largest relative difference of the loss over 50 iterations: " << worst);
  CHECK(worst <= 1e-3);
}

TEST_CASE(
    "cuda: a checkpoint written on CUDA loads on the CPU, and back, Adam's moments on the GPU",
    "[cuda]") {
  REQUIRE_GPU();
  nca::test::TempDir dir;
  const auto cfg = tiny_config();
  nca::Trainer gpu(cfg, square_target(cfg), torch::kCUDA);
  for (int i = 0; i < 3; ++i) gpu.step();
  gpu.save(dir.file("gpu.pt"), dir.file("gpu_pool.pt"));

  nca::Trainer cpu(cfg, square_target(cfg), torch::kCPU);
  cpu.load(dir.file("gpu.pt"), dir.file("gpu_pool.pt"));
  CHECK(cpu.iteration() == 3);
  for (size_t i = 0; i < cpu.model()->parameters().size(); ++i)
    CHECK(torch::equal(cpu.model()->parameters()[i], gpu.model()->parameters()[i].cpu()));
  cpu.step();
  cpu.save(dir.file("cpu.pt"), dir.file("cpu_pool.pt"));

  nca::Trainer back(cfg, square_target(cfg), torch::kCUDA);
  back.load(dir.file("cpu.pt"), dir.file("cpu_pool.pt"));
  CHECK(back.iteration() == 4);
  // Adam's moments were read onto the CPU: they must be where their parameters are.
  for (const auto& p : back.model()->parameters()) {
    const auto it = back.optimizer().state().find(nca::optimizer_state_key(p));
    REQUIRE(it != back.optimizer().state().end());
    const auto& st = static_cast<const torch::optim::AdamParamState&>(*it->second);
    CHECK(st.exp_avg().device() == p.device());
    CHECK(st.exp_avg_sq().device() == p.device());
  }
  for (size_t i = 0; i < back.model()->parameters().size(); ++i)
    CHECK(torch::equal(back.model()->parameters()[i].cpu(), cpu.model()->parameters()[i]));
  // Training goes on from there on the GPU as it would on the CPU.
  const double on_gpu = back.step().loss, on_cpu = cpu.step().loss;
  CHECK(std::abs(on_gpu - on_cpu) <= 1e-3 * on_cpu);
}

TEST_CASE("cuda: the same seed gives the same loss curve twice", "[cuda]") {
  REQUIRE_GPU();
  const auto cfg = tiny_config();
  nca::Trainer a(cfg, square_target(cfg), torch::kCUDA);
  nca::Trainer b(cfg, square_target(cfg), torch::kCUDA);
  for (int i = 0; i < 30; ++i) {
    const double la = a.step().loss, lb = b.step().loss;
    INFO("iteration " << i);
    REQUIRE(la == lb);
  }
}

TEST_CASE("cuda: the fast CPU step refuses a model whose weights are on the GPU", "[cuda]") {
  REQUIRE_GPU();
  torch::NoGradGuard no_grad;
  auto model = shipped_model();
  model->to(torch::kCUDA);
  const auto x = nca::seed_state(1, 16, 8, 8);
  CHECK_THROWS_WITH(nca::fast_step(*model, x, torch::ones({1, 1, 8, 8})),
                    Contains("must be on the CPU, found one on cuda"));
}
