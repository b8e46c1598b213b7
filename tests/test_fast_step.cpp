// The fast CPU step against the plain LibTorch step, its oracle: same outputs and the same
// gradients (autograd of the plain path) for the same state and fire mask, on random states,
// grown states and states touching the grid border; the same loss curve in training. Each with
// the kernels of every Highway target this CPU runs, chosen in turn.
#include <cmath>
#include <filesystem>

#include <torch/torch.h>
#include "catch.h"

#include "nca/checkpoint.h"
#include "nca/errors.h"
#include "nca/fast_step.h"
#include "nca/stepper.h"
#include "nca/trainer.h"
#include "test_util.h"

using nca::ModelConfig;
using nca::NCAModel;
using torch::indexing::Slice;

namespace {

constexpr double kTolerance = 1e-5;

// A model whose last layer is not zero (a fresh one changes nothing), at the scale of a trained
// one so that values stay O(1).
NCAModel random_model(uint64_t seed, const ModelConfig& cfg = {}) {
  auto gen = at::detail::createCPUGenerator(seed);
  NCAModel model(cfg, gen);
  torch::NoGradGuard no_grad;
  auto params = model->named_parameters();
  params["conv2.weight"].copy_(torch::randn(params["conv2.weight"].sizes(), gen) * 0.05);
  params["conv1.bias"].copy_(torch::randn(params["conv1.bias"].sizes(), gen) * 0.1);
  if (params.contains("conv2.bias"))
    params["conv2.bias"].copy_(torch::randn(params["conv2.bias"].sizes(), gen) * 0.05);
  return model;
}

// Random state: a blob of live cells (alpha around the threshold at its edge) in a dead grid.
torch::Tensor random_state(int64_t n, int64_t h, int64_t w, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto x = torch::rand({n, 16, h, w}, gen) * 2 - 0.5;
  auto yy = torch::arange(h, torch::kFloat).view({1, 1, h, 1});
  auto xx = torch::arange(w, torch::kFloat).view({1, 1, 1, w});
  const auto hd = static_cast<double>(h), wd = static_cast<double>(w);
  auto d = ((yy - hd / 2.0) / (hd / 4.0)).pow(2) + ((xx - wd / 2.0) / (wd / 4.0)).pow(2);
  auto inside = (d < 1.0 + 0.5 * torch::rand({n, 1, h, w}, gen)).to(torch::kFloat);
  x = x * inside;
  // Some cells just above and below the threshold.
  x.slice(1, 3, 4).mul_(0.3);
  return x;
}

struct Outcome {
  torch::Tensor out, grad_x;
  std::vector<torch::Tensor> grads;  // conv1.weight, conv1.bias, conv2.weight (, conv2.bias)
};

// One path's output for (x, fire), and the gradients of sum(out * probe) / numel.
Outcome run(NCAModel& model, bool fast, const torch::Tensor& x0, const torch::Tensor& fire,
            const torch::Tensor& probe, int steps = 1, double angle = 0.0) {
  for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
  auto x = x0.clone().requires_grad_(true);
  torch::Tensor y = x;
  for (int s = 0; s < steps; ++s) {
    const auto f = fire.dim() == 5 ? fire[s] : fire;
    y = fast ? nca::fast_step(*model, y, f, angle) : model->step(y, f, angle);
  }
  (y * probe).sum().div(static_cast<double>(y.numel()) / 1000.0).backward();
  Outcome o{y.detach().contiguous(), x.grad().clone(), {}};
  auto params = model->named_parameters();
  for (const char* name : {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"})
    if (params.contains(name)) o.grads.push_back(params[name].grad().clone());
  return o;
}

// Runs fn(target) with the fast step on each kernel target this CPU runs, then puts the
// process's choice back.
template <typename Fn>
void for_each_target(const Fn& fn) {
  struct Restore {
    std::string target = nca::fast_step_target();
    ~Restore() { nca::use_fast_step_target(target); }
  } restore;
  for (const auto& target : nca::fast_step_targets()) {
    nca::use_fast_step_target(target);
    INFO("kernels " << target);
    fn(target);
  }
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

void check_same(NCAModel& model, const torch::Tensor& x, const torch::Tensor& fire, int steps = 1,
                double angle = 0.0, uint64_t seed = 3) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto probe = torch::randn(x.sizes(), gen);
  const auto plain = run(model, false, x, fire, probe, steps, angle);
  for_each_target([&](const std::string&) {
    const auto fast = run(model, true, x, fire, probe, steps, angle);
    INFO("output max |diff| " << max_diff(plain.out, fast.out));
    CHECK(max_diff(plain.out, fast.out) <= kTolerance);
    INFO("input gradient max |diff| " << max_diff(plain.grad_x, fast.grad_x) << " (max |g| "
                                      << plain.grad_x.abs().max().item<double>() << ")");
    CHECK(max_diff(plain.grad_x, fast.grad_x) <= kTolerance);
    for (size_t i = 0; i < plain.grads.size(); ++i) {
      INFO("parameter " << i << " gradient max |diff| " << max_diff(plain.grads[i], fast.grads[i])
                        << " (max |g| " << plain.grads[i].abs().max().item<double>() << ")");
      CHECK(max_diff(plain.grads[i], fast.grads[i]) <= kTolerance);
    }
  });
  // The gradients are not trivially zero.
  CHECK(plain.grads[0].abs().max().item<double>() > 1e-3);
}

torch::Tensor fire_masks(int steps, int64_t n, int64_t h, int64_t w, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return nca::fire_masks(steps, n, h, w, 0.5, gen);
}

}  // namespace

TEST_CASE("fast step: same output and gradients as the plain step on random states") {
  auto model = random_model(11);
  auto x = random_state(3, 24, 20, 5);
  check_same(model, x, fire_masks(1, 3, 24, 20, 6)[0]);
  SECTION("every cell fires") { check_same(model, x, torch::ones({3, 1, 24, 20})); }
  SECTION("fire values other than 0 and 1 scale dx as in x + dx * fire") {
    auto gen = at::detail::createCPUGenerator(8);
    check_same(model, x, torch::rand({3, 1, 24, 20}, gen));
  }
}

TEST_CASE("fast step: same output and gradients through a rollout of several steps") {
  auto model = random_model(12);
  auto x = random_state(2, 20, 20, 7);
  check_same(model, x, fire_masks(6, 2, 20, 20, 8), /*steps=*/6);
}

TEST_CASE("fast step: states touching the grid border and corners") {
  auto model = random_model(13);
  auto x = random_state(2, 16, 16, 9);
  // Live cells along every edge and in the corners.
  auto gen = at::detail::createCPUGenerator(10);
  x.index_put_({Slice(), Slice(), 0}, torch::rand({2, 16, 16}, gen));
  x.index_put_({Slice(), Slice(), Slice(), 15}, torch::rand({2, 16, 16}, gen));
  x.index_put_({Slice(), Slice(), 15, Slice(0, 3)}, torch::rand({2, 16, 3}, gen));
  x.index_put_({0, Slice(), Slice(), Slice()}, torch::rand({16, 16, 16}, gen));  // all alive
  check_same(model, x, fire_masks(3, 2, 16, 16, 11), /*steps=*/3);
}

TEST_CASE("fast step: grown states") {
  // Grow seeds with the plain step for a while: realistic shapes and values.
  auto model = random_model(14);
  auto gen = at::detail::createCPUGenerator(15);
  auto x = nca::seed_state(2, 16, 32, 32);
  {
    torch::NoGradGuard no_grad;
    for (int s = 0; s < 40; ++s) x = model->step(x, gen);
  }
  REQUIRE((x.slice(1, 3, 4) > 0.1).sum().item<int64_t>() > 20);
  check_same(model, x, fire_masks(4, 2, 32, 32, 16), /*steps=*/4);

  // And with the shipped trained model and a lizard it grew, when the model is there.
  const auto path = nca::test::source_path("data/models/lizard-regenerating.pt");
  if (std::filesystem::exists(path)) {
    auto trained = nca::load_model(path);
    auto y = nca::seed_state(2, 16, 72, 72);
    {
      torch::NoGradGuard no_grad;
      for (int s = 0; s < 120; ++s) y = trained->step(y, gen);
    }
    check_same(trained, y, fire_masks(2, 2, 72, 72, 17), /*steps=*/2);
  }
}

TEST_CASE("fast step: rotated perception and the distill variant") {
  auto model = random_model(18);
  auto x = random_state(2, 18, 18, 19);
  check_same(model, x, fire_masks(2, 2, 18, 18, 20), 2, /*angle=*/0.7);
  ModelConfig distill;
  distill.perception = nca::Perception::Distill;
  distill.hidden = 40;  // padded inside the fast step
  auto small = random_model(21, distill);
  check_same(small, x, fire_masks(2, 2, 18, 18, 22), 2);
}

TEST_CASE("fast step: Distill's architecture, with a bias on the last layer") {
  ModelConfig distill;
  distill.perception = nca::Perception::Distill;
  distill.arch = nca::Arch::Distill;
  auto model = random_model(25, distill);
  auto x = random_state(2, 20, 18, 26);
  check_same(model, x, fire_masks(3, 2, 20, 18, 27), 3);
  SECTION("every cell fires") { check_same(model, x, torch::ones({2, 1, 20, 18})); }
  SECTION("through the border") {
    x.index_put_({0, Slice(), Slice(), Slice()}, torch::rand({16, 20, 18}));
    check_same(model, x, fire_masks(2, 2, 20, 18, 28), 2, /*angle=*/0.4);
  }
}

TEST_CASE("fast step: dead samples become zeros, and without gradients nothing is kept") {
  auto model = random_model(23);
  auto x = random_state(2, 12, 12, 24);
  x[1].slice(0, 3, 4).zero_();  // no alpha: every cell dies
  x[1].slice(0, 4).fill_(0.7);
  auto fire = torch::ones({2, 1, 12, 12});
  torch::NoGradGuard no_grad;
  for_each_target([&](const std::string&) {
    auto fast = nca::fast_step(*model, x, fire);
    CHECK_FALSE(fast.requires_grad());
    CHECK(fast[1].abs().max().item<float>() == 0.0f);
    CHECK(max_diff(fast, model->step(x, fire)) <= kTolerance);
  });
}

TEST_CASE("fast step draws the fire mask from the generator as the plain step does") {
  auto model = random_model(25);
  auto x = random_state(2, 16, 16, 26);
  auto g1 = at::detail::createCPUGenerator(27);
  auto g2 = at::detail::createCPUGenerator(27);
  torch::NoGradGuard no_grad;
  CHECK(max_diff(nca::fast_step(*model, x, g1), model->step(x, g2)) <= kTolerance);
  CHECK(torch::rand({1}, g1).item<float>() == torch::rand({1}, g2).item<float>());
}

TEST_CASE("fast step refuses a fire mask that is not on the CPU") {
  // The meta device stands in for a GPU: tensors with a shape and no memory on the host (a
  // model cannot be moved there in LibTorch 1.13; test_cuda.cpp moves one to a GPU).
  auto x = random_state(1, 8, 8, 28);
  auto fire = torch::ones({1, 1, 8, 8});
  torch::NoGradGuard no_grad;
  auto model = random_model(29);
  CHECK_THROWS_WITH(nca::fast_step(*model, x, fire.to(torch::Device(torch::kMeta))),
                    Contains("must be on the CPU, found one on meta"));
  CHECK_NOTHROW(nca::fast_step(*model, x, fire));
}

TEST_CASE("backend choice: auto is fast on the CPU, fast refuses what it cannot run") {
  using nca::Backend;
  const auto chosen = [](Backend b, const ModelConfig& c, const torch::Device& d) {
    return nca::make_stepper(b, c, d)->backend();
  };
  ModelConfig cfg;
  CHECK(chosen(Backend::Auto, cfg, torch::kCPU) == Backend::Fast);
  CHECK(chosen(Backend::Fast, cfg, torch::kCPU) == Backend::Fast);
  CHECK(chosen(Backend::Torch, cfg, torch::kCPU) == Backend::Torch);
  CHECK(chosen(Backend::Auto, cfg, torch::Device("cuda")) == Backend::Torch);
  CHECK_THROWS_WITH(chosen(Backend::Fast, cfg, torch::Device("cuda")),
                    "backend fast runs on the CPU only; use --backend torch (or auto) on cuda");
  CHECK(nca::make_stepper(Backend::Torch, cfg, torch::kCPU)->name() == "torch");
  CHECK(nca::make_stepper(Backend::Fast, cfg, torch::kCPU)->name() ==
        "fast (" + nca::fast_step_targets().front() + " kernels)");
  for_each_target([&](const std::string& target) {
    CHECK(nca::make_stepper(Backend::Fast, cfg, torch::kCPU)->name() ==
          "fast (" + target + " kernels)");
  });
  CHECK_THROWS_AS(nca::use_fast_step_target("avx9"), nca::UsageError);
  CHECK_THROWS_WITH(nca::use_fast_step_target("avx9"),
                    Contains("no fast-step kernels are named 'avx9'; choose one of " +
                             nca::fast_step_targets().front()));
  cfg.channels = 8;
  CHECK(nca::fast_step_unsupported(cfg) == "needs 16 state channels, the model has 8");
  CHECK(chosen(Backend::Auto, cfg, torch::kCPU) == Backend::Torch);
  CHECK_THROWS_AS(chosen(Backend::Fast, cfg, torch::kCPU), nca::UsageError);
  CHECK_THROWS_WITH(chosen(Backend::Fast, cfg, torch::kCPU),
                    "backend fast needs 16 state channels, the model has 8; use --backend torch "
                    "(or auto)");
  CHECK(nca::parse_backend("fast") == Backend::Fast);
  CHECK_THROWS_AS(nca::parse_backend("gpu"), nca::UsageError);
}

TEST_CASE("training with the fast backend gives the plain backend's loss curve") {
  nca::TrainConfig cfg;
  cfg.experiment = nca::Experiment::Regenerating;
  cfg.size = 12;
  cfg.pad = 4;
  cfg.batch = 4;
  cfg.pool = 16;
  cfg.min_steps = 10;
  cfg.max_steps = 16;
  cfg.damage = 1;
  cfg.seed = 3;
  const auto g = cfg.grid();
  auto target = torch::zeros({4, g, g});
  target.index_put_({Slice(), Slice(6, 14), Slice(5, 15)}, 0.8);
  target.index_put_({Slice(0, 1), Slice(6, 14), Slice(5, 10)}, 0.1);
  auto curve = [&](nca::Backend b) {
    auto c = cfg;
    c.backend = b;
    nca::Trainer t(c, target, torch::kCPU);
    CHECK(t.stepper()->backend() == b);
    std::vector<double> losses;
    for (int i = 0; i < 25; ++i) losses.push_back(t.step().loss);
    return losses;
  };
  const auto plain = curve(nca::Backend::Torch);
  for_each_target([&](const std::string&) {
    const auto fast = curve(nca::Backend::Fast);
    for (size_t i = 0; i < plain.size(); ++i) {
      INFO("iteration " << i << ": plain " << plain[i] << ", fast " << fast[i]);
      CHECK(std::abs(fast[i] - plain[i]) <= 1e-4 * std::abs(plain[i]));
    }
  });
  CHECK(plain.back() < plain.front());
}

TEST_CASE("each stepper runs its own step: the same state and fire mask as calling it directly") {
  auto model = random_model(31);
  torch::NoGradGuard no_grad;
  const auto x = random_state(2, 12, 12, 3);
  const auto fire = fire_masks(1, 2, 12, 12, 4)[0];
  const auto fast = nca::make_stepper(nca::Backend::Fast, model->config(), torch::kCPU);
  const auto plain = nca::make_stepper(nca::Backend::Torch, model->config(), torch::kCPU);
  CHECK(torch::equal(fast->step(*model, x, fire, 0.3), nca::fast_step(*model, x, fire, 0.3)));
  CHECK(torch::equal(plain->step(*model, x, fire, 0.3), model->step(x, fire, 0.3)));
  auto g1 = at::detail::createCPUGenerator(4), g2 = at::detail::createCPUGenerator(4);
  CHECK(torch::equal(fast->step(*model, x, g1), nca::fast_step(*model, x, g2)));
  CHECK(torch::equal(plain->step(*model, x, g1), model->step(x, g2)));
}
