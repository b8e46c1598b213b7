// The model contract of docs/design.md §1: perception values and channel order, parameter count,
// seed, alive mask, fire mask, loss.
#include <cmath>

#include <torch/torch.h>
#include "catch.h"

#include "nca/model.h"

using nca::ModelConfig;
using nca::NCAModel;

namespace {

// 1 x 16 x 3 x 3 state: channel 0 holds 1..9 row by row, channel 1 is 2 everywhere.
torch::Tensor hand_made_state() {
  auto x = torch::zeros({1, 16, 3, 3});
  x[0][0] = torch::arange(1, 10, torch::kFloat).view({3, 3});
  x[0][1].fill_(2.0);
  return x;
}

void randomise_update(NCAModel& model, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.copy_(torch::randn(p.sizes(), gen) * 0.3);
}

}  // namespace

TEST_CASE("perception gives identity, sobel_x/8, sobel_y/8, laplace/8 per channel in order") {
  NCAModel model;
  auto y = model->perceive(hand_made_state());
  REQUIRE(y.sizes() == torch::IntArrayRef({1, 64, 3, 3}));
  // Centre of channel 0: 5; sobel_x (3-1 + 2*(6-4) + 9-7)/8 = 1; sobel_y (7+16+9-1-4-3)/8 = 3;
  // laplace (2+4+6+8-20)/8 = 0.
  CHECK(y[0][0][1][1].item<float>() == Approx(5.0));
  CHECK(y[0][1][1][1].item<float>() == Approx(1.0));
  CHECK(y[0][2][1][1].item<float>() == Approx(3.0));
  CHECK(y[0][3][1][1].item<float>() == Approx(0.0).margin(1e-6));
  // Corner (0,0) sees zero padding: sobel_x (2*2 + 5)/8, sobel_y (2*4 + 5)/8, laplace (2+4-4)/8.
  CHECK(y[0][1][0][0].item<float>() == Approx(9.0 / 8));
  CHECK(y[0][2][0][0].item<float>() == Approx(13.0 / 8));
  CHECK(y[0][3][0][0].item<float>() == Approx(2.0 / 8));
  // Channel 1 (constant 2) comes next: identity 2, no gradient at the centre, and its corner
  // laplace sees the padding: (2 + 2 - 4*2)/8.
  CHECK(y[0][4][1][1].item<float>() == Approx(2.0));
  CHECK(y[0][5][1][1].item<float>() == Approx(0.0).margin(1e-6));
  CHECK(y[0][6][1][1].item<float>() == Approx(0.0).margin(1e-6));
  CHECK(y[0][7][0][0].item<float>() == Approx(-0.5));
  // Every other channel is zero.
  CHECK(y.slice(1, 8).abs().max().item<float>() == 0.0f);
}

TEST_CASE("perception angle rotates the sobel pair") {
  NCAModel model;
  auto y = model->perceive(hand_made_state(), M_PI / 2);
  // (cos*sx - sin*sy, sin*sx + cos*sy) at 90 degrees = (-sy, sx) = (-3, 1).
  CHECK(y[0][1][1][1].item<float>() == Approx(-3.0));
  CHECK(y[0][2][1][1].item<float>() == Approx(1.0));
  CHECK(y[0][0][1][1].item<float>() == Approx(5.0));
}

TEST_CASE("distill perception drops the laplace") {
  ModelConfig cfg;
  cfg.perception = nca::Perception::Distill;
  NCAModel model(cfg);
  auto y = model->perceive(hand_made_state());
  REQUIRE(y.size(1) == 48);
  CHECK(y[0][3][1][1].item<float>() == Approx(2.0));  // channel 1's identity follows at index 3
  CHECK(model->parameter_count() == 48 * 128 + 128 + 128 * 16);
}

TEST_CASE("the update network has 10,368 parameters and a zero last layer") {
  NCAModel model;
  CHECK(model->parameter_count() == 10368);
  auto params = model->named_parameters();
  CHECK(params["conv1.weight"].sizes() == torch::IntArrayRef({128, 64, 1, 1}));
  CHECK(params["conv1.bias"].sizes() == torch::IntArrayRef({128}));
  CHECK(params["conv2.weight"].sizes() == torch::IntArrayRef({16, 128, 1, 1}));
  CHECK(params["conv2.weight"].abs().max().item<float>() == 0.0f);
  CHECK_FALSE(model->named_parameters().contains("conv2.bias"));
  // The first layer follows PyTorch's default: U(-1/sqrt(64), 1/sqrt(64)) = U(-0.125, 0.125).
  CHECK(params["conv1.weight"].abs().max().item<float>() <= 0.125f);
  CHECK(params["conv1.weight"].std().item<float>() == Approx(0.125 / std::sqrt(3.0)).epsilon(0.05));
}

TEST_CASE("the seed is zero except the centre cell's channels 3..15") {
  auto x = nca::seed_state(2, 16, 9, 8);
  CHECK(x.sum().item<float>() == 2 * 13);
  CHECK(x[1][3][4][4].item<float>() == 1.0f);
  CHECK(x[1][15][4][4].item<float>() == 1.0f);
  CHECK(x[1][2][4][4].item<float>() == 0.0f);
}

TEST_CASE("a fresh model leaves a seed unchanged") {
  NCAModel model;
  auto x = nca::seed_state(1, 16, 12, 12);
  auto fire = torch::ones({1, 1, 12, 12});
  CHECK(torch::equal(model->step(x, fire), x));
}

TEST_CASE("cells with no alive neighbour stay zero, and others only change where they fire") {
  NCAModel model;
  randomise_update(model, 7);
  // Alive blob in the top-left corner of a 16x16 grid.
  auto x = torch::zeros({1, 16, 16, 16});
  x.index_put_(
      {0, torch::indexing::Slice(), torch::indexing::Slice(0, 4), torch::indexing::Slice(0, 4)},
      0.5);
  auto gen = at::detail::createCPUGenerator(1);
  auto fire = nca::fire_mask(1, 16, 16, 0.5, gen);
  auto y = model->step(x, fire);
  // The alive region before the step is the 3x3 dilation of the blob: rows/cols 0..4.
  auto outside = y.index({0, torch::indexing::Slice(), torch::indexing::Slice(5)});
  CHECK(outside.abs().max().item<float>() == 0.0f);
  CHECK(y.index({0, torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(5)})
            .abs()
            .max()
            .item<float>() == 0.0f);
  // Inside, a cell that did not fire keeps its value or is zeroed by the mask, nothing else.
  auto kept = (y == x) | (y == 0);
  auto not_fired = (fire == 0).expand_as(x);
  CHECK(kept.masked_select(not_fired).all().item<bool>());
  // And something did change where cells fired.
  CHECK_FALSE(torch::equal(y, x));
}

TEST_CASE("the alive mask is maxpool(alpha) > threshold") {
  auto x = torch::zeros({1, 16, 5, 5});
  x[0][3][2][2] = 0.15;
  auto at_01 = nca::alive_mask(x, 0.1);
  CHECK(at_01.sum().item<int64_t>() == 9);
  CHECK(nca::alive_mask(x, 0.2).sum().item<int64_t>() == 0);
  CHECK(at_01[0][0][1][1].item<bool>());
  CHECK_FALSE(at_01[0][0][0][0].item<bool>());
}

TEST_CASE("the fire mask fires at the configured rate and is reproducible") {
  auto g1 = at::detail::createCPUGenerator(42);
  auto g2 = at::detail::createCPUGenerator(42);
  auto a = nca::fire_mask(16, 64, 64, 0.5, g1);
  auto b = nca::fire_mask(16, 64, 64, 0.5, g2);
  CHECK(torch::equal(a, b));
  CHECK(((a == 0) | (a == 1)).all().item<bool>());
  CHECK(a.mean().item<double>() == Approx(0.5).margin(0.01));
  CHECK(nca::fire_mask(16, 64, 64, 0.25, g1).mean().item<double>() == Approx(0.25).margin(0.01));
  CHECK(nca::fire_mask(1, 8, 8, 1.0, g1).min().item<float>() == 1.0f);
}

TEST_CASE("a rollout's fire masks drawn at once are the masks of one draw per step") {
  auto once = at::detail::createCPUGenerator(21), each = at::detail::createCPUGenerator(21);
  const auto all = nca::fire_masks(5, 3, 9, 7, 0.5, once);
  REQUIRE(all.sizes() == at::IntArrayRef({5, 3, 1, 9, 7}));
  CHECK(all.scalar_type() == torch::kFloat);
  for (int s = 0; s < 5; ++s) CHECK(torch::equal(all[s], nca::fire_mask(3, 9, 7, 0.5, each)));
  // Both generators are left at the same place: what is drawn next is the same too.
  CHECK(torch::equal(torch::rand({4}, once), torch::rand({4}, each)));
}

TEST_CASE("the loss is the per-sample mean of squared RGBA error") {
  auto x = torch::zeros({2, 16, 2, 2});
  x[1].slice(0, 0, 4).fill_(0.5);
  x[1][7].fill_(100);  // hidden channels do not count
  auto target = torch::ones({4, 2, 2});
  auto loss = nca::per_sample_loss(x, target);
  CHECK(loss[0].item<double>() == Approx(1.0));
  CHECK(loss[1].item<double>() == Approx(0.25));
}
