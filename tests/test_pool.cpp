// SamplePool: sampling without replacement, write-back, shape checks, the compact form.
#include <array>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>
#include "catch.h"

#include "nca/model.h"
#include "nca/pool.h"

TEST_CASE("the pool starts as copies of the seed") {
  auto seed = nca::seed_state(1, 16, 8, 8)[0];
  nca::SamplePool pool(10, seed);
  CHECK(pool.size() == 10);
  for (int i = 0; i < 10; ++i) CHECK(torch::equal(pool.states()[i], seed));
}

TEST_CASE("sampling draws distinct indices, reproducibly, and returns copies") {
  nca::SamplePool pool(32, torch::zeros({16, 4, 4}));
  auto g1 = at::detail::createCPUGenerator(3);
  auto g2 = at::detail::createCPUGenerator(3);
  auto a = pool.sample(8, g1);
  auto b = pool.sample(8, g2);
  CHECK(torch::equal(a.indices, b.indices));
  auto v = a.indices.accessor<int64_t, 1>();
  std::set<int64_t> distinct;
  for (int i = 0; i < 8; ++i) distinct.insert(v[i]);
  CHECK(distinct.size() == 8);
  CHECK(*distinct.rbegin() < 32);
  a.states.fill_(1.0);
  CHECK(pool.states().sum().item<float>() == 0.0f);
}

TEST_CASE("commit writes states back at their indices only") {
  nca::SamplePool pool(6, torch::zeros({16, 2, 2}));
  auto idx = torch::tensor({4, 1}, torch::kLong);
  auto states = torch::stack({torch::full({16, 2, 2}, 4.0), torch::full({16, 2, 2}, 1.0)});
  pool.commit(idx, states);
  CHECK(pool.states()[4].min().item<float>() == 4.0f);
  CHECK(pool.states()[1].min().item<float>() == 1.0f);
  CHECK(pool.states().sum().item<float>() == (4.0f + 1.0f) * 64);
  for (int64_t i = 0; i < pool.size(); ++i) CHECK(torch::equal(pool.state(i), pool.states()[i]));
  CHECK_THROWS(pool.set_states(torch::zeros({5, 16, 2, 2})));
}

namespace {

// Five states of 16 x 9 x 7 (not square: rows and columns must not swap): all zero, a seed,
// a box touching the last row and column with -0.0 and zeros inside, the whole grid, a box
// that is one cell wide.
nca::SamplePool mixed_pool() {
  auto seed = nca::seed_state(1, 16, 9, 7)[0];
  nca::SamplePool pool(5, seed);
  auto gen = at::detail::createCPUGenerator(11);
  using torch::indexing::Slice;
  auto states = torch::zeros({4, 16, 9, 7});
  states[0].zero_();
  auto partial = torch::randn({16, 4, 3}, gen);
  partial.index_put_({Slice(), 1, 1}, -0.0);
  partial.index_put_({Slice(), 2, Slice()}, 0.0);
  states[1].index_put_({Slice(), Slice(5, 9), Slice(4, 7)}, partial);
  states[2].copy_(torch::randn({16, 9, 7}, gen));
  states[3].index_put_({Slice(), Slice(2, 6), Slice(3, 4)}, torch::rand({16, 4, 1}, gen) + 1);
  pool.commit(torch::tensor({0, 2, 3, 4}, torch::kLong), states);
  return pool;
}

}  // namespace

TEST_CASE("the compact form holds each state's box of nonzero cells, and gives the pool back") {
  const auto pool = mixed_pool();
  const auto c = pool.compact();
  CHECK(c.shape == std::array<int64_t, 4>{5, 16, 9, 7});
  const std::vector<int64_t> boxes{0, 0, 0, 0,  // all zero
                                   4, 3, 1, 1,  // the seed: the centre cell
                                   5, 4, 4, 3,  // partial, to the last row and column
                                   0, 0, 9, 7,  // the whole grid
                                   2, 3, 4, 1};
  CHECK(torch::equal(c.boxes, torch::tensor(boxes, torch::kLong).view({5, 4})));
  CHECK(c.cells.scalar_type() == torch::kFloat);
  CHECK(c.cells.numel() == 16 * (1 + 12 + 63 + 4));

  const nca::SamplePool back(c);
  CHECK(back.shape() == pool.shape());
  // Bit for bit: -0.0 inside a box stays -0.0.
  CHECK(torch::equal(back.states().view(torch::kInt), pool.states().view(torch::kInt)));
  CHECK(std::signbit(back.state(2)[0][6][5].item<float>()));
}

TEST_CASE("a compact form that does not fit its own shape is refused with the reason") {
  const auto good = mixed_pool().compact();
  const auto refusal = [](const nca::SamplePool::Compact& c) -> std::string {
    try {
      nca::SamplePool pool(c);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "accepted";
  };
  CHECK(refusal(good) == "accepted");
  const auto with_box = [&](int64_t i, std::vector<int64_t> box) {
    auto c = good;
    c.boxes = good.boxes.clone();
    c.boxes[i] = torch::tensor(box, torch::kLong);
    return refusal(c);
  };
  CHECK(with_box(1, {4, 3, -1, 1}) ==
        "state 1's box (row 4, column 3, -1 x 1) has a negative size");
  CHECK(with_box(1, {8, 3, 2, 1}) ==
        "state 1's box (row 8, column 3, 2 x 1) reaches outside the 9 x 7 grid");
  CHECK(with_box(1, {4, -1, 1, 1}) ==
        "state 1's box (row 4, column -1, 1 x 1) reaches outside the 9 x 7 grid");
  CHECK(with_box(0, {1, 0, 0, 0}) ==
        "state 0's box (row 1, column 0, 0 x 0) is empty but not 0 0 0 0");
  CHECK(with_box(0, {0, 0, 0, 5}) ==
        "state 0's box (row 0, column 0, 0 x 5) is empty but not 0 0 0 0");
  // A box one cell larger than its cells.
  CHECK(with_box(1, {4, 3, 1, 2}) == "it holds 1280 cell values where its boxes need 1296");

  auto c = good;
  c.cells = good.cells.slice(0, 0, -1);
  CHECK(refusal(c) == "it holds 1279 cell values where its boxes need 1280");
  c.cells = torch::cat({good.cells, torch::zeros({1})});
  CHECK(refusal(c) == "it holds 1281 cell values where its boxes need 1280");
  c.cells = good.cells.to(torch::kDouble);
  CHECK(refusal(c) == "its cells are Double [1280], expected a float32 vector");
  c.cells = good.cells.clone();
  c.cells[100] = std::numeric_limits<float>::quiet_NaN();
  CHECK(refusal(c) == "it holds values that are not finite float32");
  c.cells = good.cells.clone();
  c.cells[7] = std::numeric_limits<float>::infinity();
  CHECK(refusal(c) == "it holds values that are not finite float32");

  c = good;
  c.boxes = good.boxes.to(torch::kInt);
  CHECK(refusal(c) == "its boxes are Int [5, 4], expected int64 [5, 4]");
  c.boxes = good.boxes.slice(0, 0, 4);
  CHECK(refusal(c) == "its boxes are Long [4, 4], expected int64 [5, 4]");
  c.boxes = at::Tensor();
  CHECK(refusal(c) == "its boxes are missing, expected int64 [5, 4]");

  c = good;
  for (const auto& shape : {std::array<int64_t, 4>{0, 16, 9, 7},
                            {5, 0, 9, 7},
                            {5, 257, 9, 7},
                            {5, 16, -9, 7},
                            {5, 16, 9, 8193}}) {
    c.shape = shape;
    CHECK_THAT(refusal(c),
               Catch::Matchers::StartsWith("a pool of ") && Contains("is none nca makes"));
  }
}
