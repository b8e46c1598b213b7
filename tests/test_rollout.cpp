// grow/regen drivers: frame callbacks and the recovered figure.
#include <cmath>
#include <vector>

#include <torch/torch.h>
#include "catch.h"

#include "nca/rollout.h"

TEST_CASE("run_steps calls the sink for step 0, every K-th step and the last") {
  nca::NCAModel model;
  auto gen = at::detail::createCPUGenerator(0);
  std::vector<int> seen;
  nca::RunOptions o;
  o.every = 4;
  auto x = nca::seed_state(1, 16, 10, 10);
  auto y =
      nca::run_steps(model, x, 0, 10, gen, o, [&](int s, const at::Tensor&) { seen.push_back(s); });
  CHECK(seen == std::vector<int>{0, 4, 8, 10});
  CHECK(torch::equal(x, y));  // a fresh model changes nothing
}

TEST_CASE("regenerate measures the loss around the cut, and recovered follows its formula") {
  nca::NCAModel model;  // fresh: the seed stays a seed
  auto gen = at::detail::createCPUGenerator(0);
  auto target = torch::zeros({4, 10, 10});
  target[3].fill_(0.8);
  int frames = 0;
  // The right half holds the seed's centre cell (5, 5): the cut kills it and nothing comes back.
  auto r = nca::regenerate(model, target, nca::Cut::Half, 3, 4, gen, {},
                           [&](int, const at::Tensor&) { ++frames; });
  CHECK(frames == 4 + 5);
  const double before = (0.2 * 0.2 + 99 * 0.64) / 400.0;  // the seed's alpha is 1
  CHECK(r.loss_before_cut == Approx(before));
  CHECK(r.loss_after_cut == Approx(100 * 0.64 / 400.0));
  CHECK(r.loss_end == Approx(r.loss_after_cut));
  CHECK(r.recovered == Approx(0.0));
  CHECK(r.cells_removed == 1);  // the seed cell
  // The left half does not touch the seed: the cut changes nothing and recovered is undefined.
  auto left = nca::regenerate(model, target, nca::Cut::Left, 3, 2, gen, {}, {});
  CHECK(std::isnan(left.recovered));
  CHECK(left.cells_removed == 0);
}
