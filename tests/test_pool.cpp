// SamplePool: sampling without replacement, write-back, shape checks.
#include <set>

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
