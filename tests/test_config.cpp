// Config defaults (the Distill reference) and validate()'s explanations.
#include <limits>

#include "catch.h"

#include "nca/config.h"
#include "nca/errors.h"


TEST_CASE("defaults are the Distill reference settings") {
  nca::TrainConfig c;
  CHECK(c.experiment == nca::Experiment::Regenerating);
  CHECK(c.iters == 8000);
  CHECK(c.batch == 8);
  CHECK(c.pool == 1024);
  CHECK(c.grid() == 72);
  CHECK(c.min_steps == 64);
  CHECK(c.max_steps == 96);
  CHECK(c.lr == 2e-3);
  CHECK(c.lr_decay_at == 2000);
  CHECK(c.damage == 3);
  CHECK(c.model.channels == 16);
  CHECK(c.model.hidden == 128);
  CHECK(c.model.fire_rate == 0.5);
  CHECK(c.model.alive_threshold == 0.1);
  CHECK(c.model.perception_channels() == 64);
  CHECK_NOTHROW(c.validate());
}

TEST_CASE("validate explains every violated invariant") {
  nca::TrainConfig c;
  c.batch = 2000;
  c.min_steps = 96;
  c.size = 0;
  c.model.fire_rate = 1.5;
  CHECK(c.problems().size() == 4);
  CHECK_THROWS_AS(c.validate(), nca::UsageError);
  CHECK_THROWS_WITH(c.validate(), Contains("batch (2000) cannot be larger than pool (1024)") &&
                                      Contains("min-steps (96) must be less than max-steps (96)") &&
                                      Contains("size must be positive, got 0") &&
                                      Contains("fire-rate must be in (0, 1]"));
  nca::TrainConfig growing;
  growing.experiment = nca::Experiment::Growing;
  growing.batch = 2000;  // no pool in the growing experiment
  CHECK(growing.problems().empty());
}

TEST_CASE("experiment and perception names parse, and unknown ones are usage errors") {
  CHECK(nca::parse_experiment("persistent") == nca::Experiment::Persistent);
  CHECK_THROWS_WITH(nca::parse_experiment("grow"), Contains("growing, persistent or regenerating"));
  CHECK(nca::parse_perception("distill") == nca::Perception::Distill);
  CHECK_THROWS_AS(nca::parse_perception("sobel"), nca::UsageError);
}

TEST_CASE("to_toml writes every key under its flag name") {
  nca::TrainConfig c;
  c.target = "data/my lizard's.png";
  const auto toml = c.to_toml();
  for (const char* key : {"target = \"data/my lizard's.png\"", "experiment = \"regenerating\"",
                          "iters = 8000", "min-steps = 64", "max-steps = 96", "lr = 0.002",
                          "fire-rate = 0.5", "alive-threshold = 0.1", "hidden = 128",
                          "perception = \"full\"", "seed = 0", "device = \"auto\""})
    CHECK_THAT(toml, Contains(key));
}

TEST_CASE("a target config.toml could not hold back is refused") {
  nca::TrainConfig c;
  c.target = "data/lizard.png";
  CHECK_NOTHROW(c.validate());
  for (const char* bad : {"a\"b.png", "a\\b.png", "take#2.png", "two\nlines.png"}) {
    c.target = bad;
    CHECK_THROWS_WITH(c.validate(), Contains("which the run's config.toml could not hold"));
  }
  c.target = "data/lizard.png";
  c.device = "cpu#";
  CHECK_THROWS_WITH(c.validate(), Contains("device 'cpu#'"));
}

TEST_CASE("limits that keep a config from asking for the impossible") {
  nca::TrainConfig c;
  c.lr = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(c.validate(), Contains("lr must be positive and at most 1e30, got inf"));
  c.lr = 1e31;
  CHECK_THROWS_WITH(c.validate(), Contains("lr must be positive and at most 1e30, got 1e+31"));
  c = {};
  c.lr_decay = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(c.validate(), Contains("lr-decay must be positive"));
  c.lr_decay = 1e40;
  CHECK_THROWS_WITH(c.validate(), Contains("lr * lr-decay at most 1e30"));
  nca::ModelConfig m;
  m.hidden = 4097;
  CHECK_THROWS_WITH(m.validate(), Contains("hidden must be in 1..4096, got 4097"));
  m = {};
  m.channels = 257;
  CHECK_THROWS_WITH(m.validate(), Contains("channels must be in 4..256"));
}
