// The training loop of docs/design.md §2: reseeding, damage, pool write-back, gradient
// normalisation, learning-rate schedule, determinism, non-finite protection.
#include <set>

#include <torch/torch.h>
#include "catch.h"

#include "nca/torch_compat.h"
#include "nca/trainer.h"
#include "test_util.h"

using nca::Experiment;
using nca::TrainConfig;
using nca::Trainer;
using nca::test::square_target;

namespace {

// size 6, pad 3 -> 12 x 12 grid; a 6x6 opaque red square target.
TrainConfig small_config(Experiment e) {
  TrainConfig c;
  c.experiment = e;
  c.size = 6;
  c.pad = 3;
  c.batch = 4;
  c.pool = 16;
  c.min_steps = 3;
  c.max_steps = 6;
  c.damage = 2;
  c.seed = 5;
  return c;
}

// The value that fills pool state i: distinct per state, and its loss grows with it.
float fill_value(int i) { return 0.05f * static_cast<float>(i + 1); }

}  // namespace

TEST_CASE("regenerating: highest loss reseeded, lowest damaged, sorted by loss, written back") {
  auto cfg = small_config(Experiment::Regenerating);
  Trainer trainer(cfg, square_target(cfg), torch::kCPU);
  trainer.step();  // a fresh model changes nothing; after one update every rollout does
  auto* pool = trainer.pool();
  REQUIRE(pool != nullptr);
  auto states = torch::empty_like(pool->states());
  for (int i = 0; i < cfg.pool; ++i) states[i].fill_(fill_value(i));
  pool->set_states(states);

  trainer.step();
  const auto& before = trainer.last_batch_before();
  const auto seed = nca::seed_state(1, 16, cfg.grid(), cfg.grid())[0];
  CHECK(torch::equal(before[0], seed));

  // The undamaged middle sample is a pool state as it was; the damaged ones keep their value or
  // are zero, with some zeros; the order is by loss, highest first (a constant state's loss grows
  // with its value here since values stay below the target's 1 only on non-target cells).
  auto value_of = [&](int k) { return before[k].max().item<float>(); };
  auto loss = nca::per_sample_loss(before.slice(0, 1), trainer.target());
  for (int k = 1; k + 1 < cfg.batch; ++k) CHECK(loss[k - 1].item<float>() >= loss[k].item<float>());
  CHECK((before[1] == value_of(1)).all().item<bool>());
  for (int k = cfg.batch - cfg.damage; k < cfg.batch; ++k) {
    const float v = value_of(k);
    CHECK(((before[k] == v) | (before[k] == 0)).all().item<bool>());
    CHECK((before[k] == 0).any().item<bool>());
  }

  // Exactly the sampled states were replaced by the batch after its rollout.
  int changed = 0;
  for (int i = 0; i < cfg.pool; ++i) {
    if (torch::equal(pool->states()[i], states[i])) continue;
    ++changed;
    bool found = false;
    for (int k = 0; k < cfg.batch; ++k)
      found = found || torch::equal(pool->states()[i], trainer.last_batch_after()[k]);
    CHECK(found);
  }
  CHECK(changed == cfg.batch);
}

TEST_CASE("persistent: no damage, and growing: every sample is a fresh seed and there is no pool") {
  auto cfg = small_config(Experiment::Persistent);
  Trainer persistent(cfg, square_target(cfg), torch::kCPU);
  auto states = torch::empty_like(persistent.pool()->states());
  for (int i = 0; i < cfg.pool; ++i) states[i].fill_(fill_value(i));
  persistent.pool()->set_states(states);
  persistent.step();
  for (int k = 1; k < cfg.batch; ++k) {
    const auto& s = persistent.last_batch_before()[k];
    CHECK((s == s.max()).all().item<bool>());
  }

  cfg.experiment = Experiment::Growing;
  Trainer growing(cfg, square_target(cfg), torch::kCPU);
  CHECK(growing.pool() == nullptr);
  growing.step();
  const auto seeds = nca::seed_state(cfg.batch, 16, cfg.grid(), cfg.grid());
  CHECK(torch::equal(growing.last_batch_before(), seeds));
}

TEST_CASE("rollout lengths are drawn from min-steps up to max-steps, exclusive") {
  auto cfg = small_config(Experiment::Growing);
  Trainer trainer(cfg, square_target(cfg), torch::kCPU);
  std::set<int> seen;
  for (int i = 0; i < 30; ++i) seen.insert(trainer.step().steps);
  CHECK(seen == std::set<int>{3, 4, 5});
}

TEST_CASE("the same seed gives the same losses, another seed other losses") {
  auto cfg = small_config(Experiment::Regenerating);
  auto run = [&](uint64_t seed) {
    auto c = cfg;
    c.seed = seed;
    Trainer t(c, square_target(c), torch::kCPU);
    std::vector<double> losses;
    for (int i = 0; i < 4; ++i) losses.push_back(t.step().loss);
    return losses;
  };
  CHECK(run(5) == run(5));
  CHECK(run(5) != run(6));
}

TEST_CASE("learning rate is lr until lr-decay-at, then lr * lr-decay") {
  TrainConfig c;
  CHECK(c.lr_at(0) == 2e-3);
  CHECK(c.lr_at(1999) == 2e-3);
  CHECK(c.lr_at(2000) == Approx(2e-4));
  auto cfg = small_config(Experiment::Growing);
  cfg.lr_decay_at = 1;
  Trainer trainer(cfg, square_target(cfg), torch::kCPU);
  CHECK(trainer.step().lr == 2e-3);
  CHECK(trainer.step().lr == Approx(2e-4));
}

TEST_CASE("gradients are normalised per parameter") {
  auto a = torch::zeros({3}, torch::requires_grad());
  auto b = torch::zeros({2, 2}, torch::requires_grad());
  ((a * torch::tensor({3.0f, 0.0f, 4.0f})).sum() + (b * 10).sum()).backward();
  REQUIRE(nca::normalize_gradients({a, b}));
  CHECK(a.grad()[0].item<float>() == Approx(0.6));
  CHECK(a.grad()[2].item<float>() == Approx(0.8));
  CHECK(b.grad().norm().item<float>() == Approx(1.0));
  a.grad()[0] = std::numeric_limits<float>::infinity();
  CHECK_FALSE(nca::normalize_gradients({a, b}));
}

TEST_CASE("a non-finite loss skips the update: weights and pool stay as they were") {
  auto cfg = small_config(Experiment::Persistent);
  auto target = square_target(cfg);
  target[0][6][6] = std::numeric_limits<float>::quiet_NaN();
  Trainer trainer(cfg, target, torch::kCPU);
  trainer.step();  // the loss is NaN from the first iteration on
  std::vector<torch::Tensor> weights;
  for (const auto& p : trainer.model()->parameters()) weights.push_back(p.detach().clone());
  auto pool_before = trainer.pool()->states().clone();
  auto stats = trainer.step();
  CHECK(stats.skipped);
  auto params = trainer.model()->parameters();
  for (size_t i = 0; i < params.size(); ++i) CHECK(torch::equal(params[i], weights[i]));
  CHECK(torch::equal(trainer.pool()->states(), pool_before));
}

TEST_CASE("a few iterations on the red square lower the loss") {
  auto cfg = small_config(Experiment::Growing);
  cfg.lr = 1e-2;
  Trainer trainer(cfg, square_target(cfg), torch::kCPU);
  const double first = trainer.step().loss;
  double last = first;
  for (int i = 0; i < 60; ++i) last = trainer.step().loss;
  INFO("first " << first << ", last " << last);
  CHECK(last < 0.5 * first);
}

TEST_CASE("an update that makes a weight non-finite is rolled back: weights and Adam as before") {
  auto cfg = small_config(Experiment::Persistent);
  Trainer trainer(cfg, square_target(cfg), torch::kCPU);
  CHECK_FALSE(trainer.step().skipped);
  CHECK_FALSE(trainer.step().skipped);
  // Adam's first moments pushed to the edge of the float range: the next update overflows.
  for (auto& [key, st] : trainer.optimizer().state())
    static_cast<torch::optim::AdamParamState&>(*st).exp_avg().fill_(3e38f);
  auto snapshot = [&] {
    std::vector<torch::Tensor> out;
    for (const auto& p : trainer.model()->parameters()) {
      out.push_back(p.detach().clone());
      const auto key = nca::optimizer_state_key(p);
      const auto& st = static_cast<torch::optim::AdamParamState&>(
          *trainer.optimizer().state().find(key)->second);
      out.push_back(st.exp_avg().clone());
      out.push_back(st.exp_avg_sq().clone());
      out.push_back(torch::tensor(st.step()));
    }
    return out;
  };
  const auto before = snapshot();
  const auto pool_before = trainer.pool()->states().clone();
  const auto stats = trainer.step();
  CHECK(stats.skipped);
  CHECK(stats.skip_reason == "the update made a weight non-finite");
  const auto after = snapshot();
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < before.size(); ++i) CHECK(torch::equal(after[i], before[i]));
  CHECK(torch::equal(trainer.pool()->states(), pool_before));
  CHECK(trainer.iteration() == 3);
}
