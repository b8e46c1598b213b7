// grow/regen drivers: frame callbacks and the recovered figure.
#include <cmath>
#include <vector>

#include <torch/torch.h>
#include "catch.h"

#include "nca/checkpoint.h"
#include "nca/rollout.h"
#include "test_util.h"

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

TEST_CASE("regenerate on another grid measures against the target placed around the seed") {
  nca::NCAModel model;  // fresh: the seed stays a seed
  auto gen = at::detail::createCPUGenerator(0);
  auto target = torch::zeros({4, 10, 10});
  target[3].fill_(0.8);
  nca::RunOptions o;
  o.height = o.width = 14;  // the target's seed cell (5, 5) lands on (7, 7), the grid's
  int frames = 0;
  auto r =
      nca::regenerate(model, target, nca::Cut::Half, 3, 4, gen, o, [&](int, const at::Tensor& x) {
        ++frames;
        CHECK(x.size(2) == 14);
      });
  CHECK(frames == 4 + 5);
  CHECK(r.loss_before_cut == Approx((0.2 * 0.2 + 99 * 0.64) / (4 * 196.0)));
  CHECK(r.cells_removed == 1);  // the right half starts at the seed's column on this grid too
  CHECK(r.loss_after_cut == Approx(100 * 0.64 / (4 * 196.0)));
}

TEST_CASE("on_grid puts the training grid's seed cell on the seed cell of another grid") {
  auto t = torch::arange(4 * 6 * 8, torch::kFloat).view({4, 6, 8});
  CHECK(torch::equal(nca::on_grid(t, 6, 8), t));  // its own grid: unchanged
  // Larger: seed (3, 4) lands on (5, 5); the rest is empty.
  auto big = nca::on_grid(t, 10, 11);
  REQUIRE(big.sizes() == std::vector<int64_t>{4, 10, 11});
  CHECK(torch::equal(big.slice(1, 2, 8).slice(2, 1, 9), t));
  CHECK(big.sum().item<double>() == t.sum().item<double>());
  CHECK(big[2][5][5].item<float>() == t[2][3][4].item<float>());
  // Smaller, and odd: seed (3, 4) on (2, 1); rows 1..5 and columns 3..5 of t fit.
  auto small = nca::on_grid(t, 5, 3);
  CHECK(torch::equal(small, t.slice(1, 1, 6).slice(2, 3, 6)));
  // A mask (1 x 1 x H x W) goes the same way.
  auto m = torch::zeros({1, 1, 4, 4});
  m[0][0][2][2] = 1;
  CHECK(nca::on_grid(m, 9, 9)[0][0][4][4].item<float>() == 1.0f);
}

TEST_CASE("on_grid turns anticlockwise, as drawn, about the seed cell") {
  auto t = torch::zeros({1, 9, 9});
  t[0][4][7] = 1;  // three cells right of the seed (4, 4)
  auto quarter = nca::on_grid(t, 9, 9, M_PI / 2);
  CHECK(quarter[0][1][4].item<float>() == Approx(1.0f));  // three cells above it
  CHECK(quarter.sum().item<float>() == Approx(1.0f));
  auto back = nca::on_grid(t, 9, 9, -M_PI / 2);
  CHECK(back[0][7][4].item<float>() == Approx(1.0f));  // three cells below it
}

TEST_CASE("on_grid turns the target as the rotated perception turns the grown pattern") {
  nca::CheckpointInfo info;
  auto model = nca::load_model(nca::test::source_path("data/models/lizard-persistent.pt"), &info);
  model->eval();
  auto loss_after_growing = [&](double degrees, double target_degrees) {
    auto gen = at::detail::createCPUGenerator(0);
    nca::RunOptions o;
    o.angle = degrees * M_PI / 180.0;
    auto x = nca::run_steps(model, nca::seed_state(1, 16, 72, 72), 0, 200, gen, o, {});
    return nca::per_sample_loss(x, nca::on_grid(info.target, 72, 72, target_degrees * M_PI / 180))
        .item<double>();
  };
  // Measured: 0.00047 unturned; 0.0010 at 90 and 45 degrees against the turned target, 0.014 at
  // 90 against the target turned the other way, 0.028-0.031 against the unturned target.
  CHECK(loss_after_growing(0, 0) < 0.001);
  for (double degrees : {90.0, -90.0, 45.0}) {
    const double turned = loss_after_growing(degrees, degrees);
    CHECK(turned < 0.002);
    CHECK(loss_after_growing(degrees, 0) > 10 * turned);
  }
  CHECK(loss_after_growing(90, -90) > 10 * loss_after_growing(90, 90));
}
