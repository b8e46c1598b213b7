// shard_config (docs/design.md §8, docs/data-parallel.md): one rank's share of a run configured
// with global sizes.
#include <set>

#include "catch.h"

#include "nca/config.h"
#include "nca/distributed.h"
#include "nca/errors.h"

TEST_CASE("one process keeps the config unchanged") {
  nca::TrainConfig c;
  c.seed = 7;
  const auto s = nca::shard_config(c, 0, 1);
  CHECK(s.batch == 8);
  CHECK(s.pool == 1024);
  CHECK(s.damage == 3);
  CHECK(s.seed == 7);
  for (int64_t i = 0; i < 5; ++i) CHECK(s.reseeds_at(i));
}

TEST_CASE("the Distill setting over 2 ranks: 4 + 4 samples, pools of 512, damage 1 and 2") {
  nca::TrainConfig c;
  const auto r0 = nca::shard_config(c, 0, 2);
  const auto r1 = nca::shard_config(c, 1, 2);
  CHECK(r0.batch == 4);
  CHECK(r1.batch == 4);
  CHECK(r0.pool == 512);
  CHECK(r1.pool == 512);
  CHECK(r0.damage + r1.damage == 3);
  CHECK(r0.damage == 1);
  CHECK(r1.damage == 2);
  CHECK(r0.seed == c.seed);
  CHECK(r1.seed != c.seed);
  r0.validate();
  r1.validate();
}

TEST_CASE("one seed per global batch: the ranks take turns reseeding") {
  nca::TrainConfig c;
  c.batch = 12;
  c.pool = 12;
  std::vector<nca::TrainConfig> ranks;
  for (int r = 0; r < 3; ++r) ranks.push_back(nca::shard_config(c, r, 3));
  for (int64_t i = 0; i < 9; ++i) {
    int reseeding = 0;
    for (const auto& s : ranks) reseeding += s.reseeds_at(i) ? 1 : 0;
    CHECK(reseeding == 1);
    CHECK(ranks[i % 3].reseeds_at(i));
  }
}

TEST_CASE("every rank draws from a generator of its own") {
  nca::TrainConfig c;
  c.batch = 128;
  c.pool = 128;
  std::set<uint64_t> seeds;
  for (int r = 0; r < 64; ++r) seeds.insert(nca::shard_config(c, r, 64).seed);
  CHECK(seeds.size() == 64);
}

TEST_CASE("shares that do not split are refused, naming the global value") {
  nca::TrainConfig c;
  c.batch = 6;
  CHECK_THROWS_WITH(nca::shard_config(c, 0, 4),
                    Contains("batch 6 does not split evenly over 4 processes"));
  c.batch = 8;
  c.pool = 1022;
  CHECK_THROWS_WITH(nca::shard_config(c, 0, 4),
                    Contains("pool 1022 does not split evenly over 4 processes"));
  c.pool = 1024;
  c.batch = 4;
  c.damage = 3;  // 1 and 2 of 2 samples each: rank 1 would have none left to reseed
  CHECK_THROWS_WITH(nca::shard_config(c, 0, 2),
                    Contains("damage 3 over 2 processes damages 2 of a process's 2 samples"));
  c.experiment = nca::Experiment::Persistent;  // damage is not used
  CHECK_NOTHROW(nca::shard_config(c, 1, 2));
}
