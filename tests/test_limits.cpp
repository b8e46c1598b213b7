// The one place for limits (nca/limits.h): each refused with the limit in the message, no
// product overflowing before its check, and the training memory estimate.
#include <cstdint>
#include <limits>

#include <c10/util/Exception.h>

#include "catch.h"

#include "nca/config.h"
#include "nca/errors.h"
#include "nca/limits.h"
#include "nca/stepper.h"

namespace lim = nca::limits;

TEST_CASE("steps, grids and threads are refused beyond their limits, with the limit named") {
  CHECK_NOTHROW(lim::check_steps("--steps", 1));
  CHECK_NOTHROW(lim::check_steps("--steps", 100000));
  CHECK_THROWS_WITH(lim::check_steps("--steps", 100001),
                    "--steps 100001 is out of range: 1 to 100000");
  CHECK_THROWS_AS(lim::check_steps("--at", 0), nca::UsageError);
  CHECK_NOTHROW(lim::check_grid("--grid 72", 72, 72));
  CHECK_NOTHROW(lim::check_grid("--grid 8192", 8192, 8192));
  CHECK_THROWS_WITH(lim::check_grid("--grid 8193x3", 8193, 3),
                    "--grid 8193x3: a grid is 3 to 8192 cells a side, got 8193x3");
  CHECK_THROWS_AS(lim::check_grid("--grid 2", 2, 2), nca::UsageError);
  CHECK_NOTHROW(lim::check_threads("--threads", 0));
  CHECK_NOTHROW(lim::check_threads("--threads", lim::max_threads()));
  CHECK(lim::max_threads() == 4 * lim::cores());
  CHECK_THROWS_WITH(lim::check_threads("--threads", 1000),
                    Contains("--threads 1000 is out of range: 0 (all cores) to"));
  CHECK_THROWS_AS(lim::check_threads("--threads", -1), nca::UsageError);
}

TEST_CASE("frame sizes: one limit for grow and regen, and no product that wraps") {
  CHECK_NOTHROW(lim::check_frame(72, 72, 4));
  CHECK_NOTHROW(lim::check_frame(8192, 8192, 1));  // exactly 64 megapixels
  CHECK_THROWS_WITH(lim::check_frame(72, 72, 600),
                    "--scale 600 makes 43200x43200 frames of a 72x72 grid: at most 64 "
                    "megapixels a frame; lower --scale");
  // 2^32 squared wraps an int64 to 0; the check is made in floating point.
  CHECK_THROWS_AS(lim::check_frame(72, 72, int64_t{1} << 32), nca::UsageError);
  CHECK_THROWS_AS(lim::check_frame(72, 72, std::numeric_limits<int>::max()), nca::UsageError);
  CHECK_THROWS_AS(lim::check_frame(72, 72, 0), nca::UsageError);
}

TEST_CASE("a config's sizes are checked without overflow") {
  nca::TrainConfig c;
  c.pad = std::numeric_limits<int>::max();  // size + 2 pad passes the int range
  CHECK_THROWS_WITH(c.validate(), Contains("size + 2 pad (the grid) must be at most 8192 cells, "
                                           "got 4294967334"));
  c = {};
  c.size = 4097;
  CHECK_THROWS_WITH(c.validate(), Contains("size must be at most 4096, got 4097"));
  c = {};
  c.max_steps = 2147483647;
  CHECK_THROWS_WITH(c.validate(), Contains("max-steps must be at most 100000, got 2147483647"));
  c = {};
  c.threads = 100000;
  CHECK_THROWS_WITH(c.validate(), Contains("threads must be 0 (all cores) to"));
}

TEST_CASE("the memory estimate grows with pool, batch, grid and rollout length") {
  nca::TrainConfig c;  // the reference: pool 1024 of 16 x 72 x 72
  const auto bytes = [](nca::Backend b, const nca::TrainConfig& t) {
    return nca::make_stepper(b, t.model, torch::kCPU)->rollout_bytes_per_cell_step(t.model);
  };
  const auto m = lim::estimate_training_memory(c, bytes(nca::Backend::Fast, c));
  CHECK(m.pool == 1024.0 * 16 * 72 * 72 * 4);  // every state full-size: 340 MB
  CHECK(m.rollout > 0);
  CHECK(m.total() == m.pool + m.rollout + m.fixed);
  CHECK(lim::estimate_training_memory(c, bytes(nca::Backend::Torch, c)).rollout >
        10 * m.rollout);  // plain LibTorch
  nca::TrainConfig longer = c;
  longer.max_steps = 2 * c.max_steps - 1;
  CHECK(lim::estimate_training_memory(longer, bytes(nca::Backend::Fast, longer)).rollout ==
        Approx(2 * m.rollout));
  nca::TrainConfig growing = c;
  growing.experiment = nca::Experiment::Growing;
  CHECK(lim::estimate_training_memory(growing, bytes(nca::Backend::Fast, growing)).pool == 0);
  CHECK(lim::machine_memory() > 0);
  CHECK(lim::format_bytes(340e6) == "340 MB");
  CHECK(lim::format_bytes(2.94e9) == "2.9 GB");
  CHECK(lim::format_bytes(33.2e12) == "33 TB");
}

TEST_CASE("LibTorch's messages lose their source location and stay bounded") {
  CHECK(nca::first_line(std::string("[enforce fail at inline_container.cc:249] . file not found: "
                                    "archive/data.pkl\nmore")) ==
        "file not found: archive/data.pkl");
  CHECK(nca::first_line(std::string("\n  plain message\nsecond")) == "plain message");
  CHECK(nca::first_line(std::string("[enforce fail at x.cc:1] ")) ==
        "LibTorch failed without saying why");
  CHECK(nca::first_line(std::string(5000, 'x')).size() == 303);
  try {
    TORCH_CHECK(false, "a check that failed");
  } catch (const c10::Error& e) {
    CHECK(nca::first_line(e) == "a check that failed");
  }
}
