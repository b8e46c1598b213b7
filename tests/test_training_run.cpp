// The one reader of config files (nca/config_file.h) and a training run's lifecycle
// (nca/training_run.h), driven as `nca train` drives them, on a tiny run.
#include <atomic>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "catch.h"
#include "test_util.h"

#include "nca/config_file.h"
#include "nca/errors.h"
#include "nca/training_run.h"

namespace {

using nca::ConfigChange;
using nca::Notice;
using nca::TrainConfig;

// Every setting away from its default, the enums included.
TrainConfig unusual_config() {
  TrainConfig c;
  c.target = "some dir/lizard.png";
  c.experiment = nca::Experiment::Growing;
  c.iters = 123;
  c.lr = 0.30000000000000004;
  c.seed = 18446744073709551615ULL;
  c.model.perception = nca::Perception::Distill;
  c.model.alive_threshold = 0.15;
  c.backend = nca::Backend::Torch;
  c.snapshot_every = 0;
  return c;
}

std::string refusal(const std::string& toml) {
  try {
    nca::parse_train_config(toml);
  } catch (const nca::UsageError& e) {
    return e.what();
  }
  return "accepted";
}

// A run of a few iterations on a 24x24 grid.
TrainConfig tiny_config(int64_t iters) {
  TrainConfig c;
  c.target = nca::test::source_path("data/lizard.png");
  c.size = 16;
  c.pad = 4;
  c.batch = 2;
  c.pool = 8;
  c.damage = 1;
  c.min_steps = 4;
  c.max_steps = 6;
  c.threads = 1;
  c.iters = iters;
  c.save_every = 0;
  c.snapshot_every = 0;
  c.device = "cpu";
  return c;
}

struct Told {
  std::vector<std::pair<Notice, std::string>> lines;
  nca::NoticeFn fn() {
    return [this](Notice n, const std::string& s) { lines.emplace_back(n, s); };
  }
  bool has(const std::string& text) const {
    for (const auto& [level, line] : lines)
      if (line.find(text) != std::string::npos) return true;
    return false;
  }
};

// Runs `request` to its end as `nca train` does; returns whether it stopped early.
bool run_to_end(const nca::RunRequest& request, Told& told, nca::CostEstimate* cost = nullptr) {
  static const std::atomic<bool> no_stop{false};
  nca::TrainingRun run(request, std::nullopt, c10::Device(c10::kCPU), &no_stop, told.fn());
  run.open(1);
  if (cost) *cost = run.estimate_cost();
  run.begin();
  while (run.running()) {
    const nca::IterationStats s = run.step();
    REQUIRE_FALSE(s.abandoned);
    run.write_due();
  }
  return run.finish();
}

}  // namespace

TEST_CASE("config.toml read back gives the config that wrote it") {
  const TrainConfig c = unusual_config();
  const TrainConfig back = nca::parse_train_config(c.to_toml());
  CHECK(back.to_toml() == c.to_toml());
  CHECK(back.experiment == nca::Experiment::Growing);
  CHECK(back.model.perception == nca::Perception::Distill);
  CHECK(back.backend == nca::Backend::Torch);
  CHECK(back.lr == 0.30000000000000004);
  CHECK(back.seed == 18446744073709551615ULL);
  CHECK(back.target == "some dir/lizard.png");
  // A key left out keeps its default.
  CHECK(nca::parse_train_config("iters = 5\n").to_toml() == [] {
    TrainConfig d;
    d.iters = 5;
    return d.to_toml();
  }());
}

TEST_CASE("the config reader refuses what a --config file may not hold, saying where") {
  CHECK(refusal("lr = \"0.1\"\n") ==
        "line 1: lr = \"0.1\": a number is written without quotes (lr = 0.1)");
  CHECK(refusal("iters = 5\niters = 6\n") ==
        "line 2: key 'iters' is given twice (first on line 1)");
  CHECK(refusal("experiment = growing\n").find("text is written in quotes") != std::string::npos);
  CHECK(refusal("experiment = \"shrinking\"\n") ==
        "unknown experiment 'shrinking': choose growing, persistent or regenerating");
  CHECK(refusal("backend = \"gpu\"\n").rfind("unknown backend 'gpu'", 0) == 0);
  CHECK(refusal("resume = true\n").find("resume") != std::string::npos);
  CHECK(nca::parse_train_config("iters = 010\n").iters == 10);
  CHECK(refusal("iters = 0x10\n").find("not a whole number") != std::string::npos);
}

TEST_CASE("config_changes lists the keys that differ, in config.toml's order") {
  TrainConfig a, b;
  b.lr = 1e-3;
  b.iters = 9000;
  b.experiment = nca::Experiment::Persistent;
  const std::vector<ConfigChange> changes = nca::config_changes(a, b);
  REQUIRE(changes.size() == 3);
  CHECK(changes[0].key == "experiment");
  CHECK(changes[0].before == "\"regenerating\"");
  CHECK(changes[0].after == "\"persistent\"");
  CHECK(changes[1].key == "iters");
  CHECK(changes[1].after == "9000");
  CHECK(changes[2].key == "lr");
  CHECK(changes[2].before == "0.002");
  CHECK(changes[2].after == "0.001");
  CHECK(nca::config_changes(b, b).empty());
}

TEST_CASE("a training run starts, saves and resumes in its run directory") {
  nca::test::TempDir tmp;
  nca::RunRequest request;
  request.cfg = tiny_config(3);
  request.run_dir = tmp.file("run");
  Told told;
  nca::CostEstimate cost;
  CHECK_FALSE(run_to_end(request, told, &cost));
  CHECK(told.has("target " + request.cfg.target + ": 16x16 image in a 24x24 grid"));
  CHECK(cost.from_image);
  CHECK(cost.grid == 24);
  CHECK(cost.iterations_left == 3);
  CHECK(cost.step_seconds > 0);
  CHECK(cost.model_bytes > 0);
  CHECK(cost.pool_bytes > 0);
  CHECK(cost.memory.processes == 1);
  for (const char* file : {"model.pt", "pool.pt", "config.toml", "loss.csv", "growth.gif"})
    CHECK(std::filesystem::exists(tmp.path() / "run" / file));
  CHECK(nca::read_train_config(tmp.file("run/config.toml")).to_toml() == request.cfg.to_toml());

  SECTION("resumed with more iterations and another rate: it says what changed") {
    request.mode = nca::RunMode::Resume;
    request.cfg.iters = 5;
    request.cfg.lr = 1e-3;
    Told resumed;
    CHECK_FALSE(run_to_end(request, resumed));
    CHECK(resumed.has("resuming with iters = 5 (was 3)"));
    CHECK(resumed.has("resuming with lr = 0.001 (was 0.002)"));
    CHECK(resumed.has("at iteration 3"));
    CHECK(nca::saved_run_config(request.run_dir)->iters == 5);
  }
  SECTION("resumed with another seed or experiment: refused, naming each") {
    request.mode = nca::RunMode::Resume;
    request.cfg.seed = 1;
    request.cfg.experiment = nca::Experiment::Persistent;
    Told refused;
    const std::atomic<bool> no_stop{false};
    nca::TrainingRun run(request, std::nullopt, c10::Device(c10::kCPU), &no_stop, refused.fn());
    CHECK_THROWS_WITH(
        run.open(1),
        "--resume goes on with the run as it was set up: it has experiment = \"regenerating\", "
        "not \"persistent\"; seed = 0, not 1 (leave those settings out, or start a new run in "
        "another --run-dir)");
  }
}
