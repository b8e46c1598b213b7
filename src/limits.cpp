// The limits of include/nca/limits.h: the checks, the memory estimate, the machine's memory.
#include "nca/limits.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <unistd.h>

#include "nca/config.h"
#include "nca/errors.h"

namespace nca::limits {
namespace {

// What a training process holds besides the pool and the rollout (each step's share of the
// rollout is the Stepper's). Measured as the peak resident memory of `nca train` over grids,
// batches and rollout lengths (docs/robustness.md, "Memory"); the estimate is meant to be above
// the measurement, not below.
constexpr double kFixedBytes = 200e6;  // measured: 176 MB for a run of 8 x 8 cells

}  // namespace

int cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

int max_threads() { return kThreadsPerCore * cores(); }

void check_threads(const std::string& flag, int64_t threads) {
  if (threads < 0 || threads > max_threads())
    throw UsageError(fmt::format(
        "{} {} is out of range: 0 (all cores) to {} ({} per core; this machine has {} core{})",
        flag, threads, max_threads(), kThreadsPerCore, cores(), cores() == 1 ? "" : "s"));
}

void check_steps(const std::string& flag, int64_t steps) {
  if (steps < 1 || steps > kMaxSteps)
    throw UsageError(fmt::format("{} {} is out of range: 1 to {}", flag, steps, kMaxSteps));
}

void check_grid(const std::string& what, int64_t h, int64_t w) {
  if (h < 3 || w < 3 || h > kMaxGridSide || w > kMaxGridSide)
    throw UsageError(
        fmt::format("{}: a grid is 3 to {} cells a side, got {}x{}", what, kMaxGridSide, h, w));
}

void check_frame(int64_t h, int64_t w, int64_t scale) {
  // In floating point: the product of four int64 values can wrap, a double cannot.
  const double pixels = static_cast<double>(h) * static_cast<double>(w) *
                        static_cast<double>(scale) * static_cast<double>(scale);
  if (scale < 1 || pixels > static_cast<double>(kMaxFramePixels))
    throw UsageError(fmt::format(
        "--scale {} makes {}x{} frames of a {}x{} grid: at most {} megapixels a frame; lower "
        "--scale",
        scale, static_cast<double>(w) * static_cast<double>(scale),
        static_cast<double>(h) * static_cast<double>(scale), h, w, kMaxFramePixels >> 20));
}

MemoryEstimate estimate_training_memory(const TrainConfig& cfg,
                                        double rollout_bytes_per_cell_step) {
  MemoryEstimate m;
  const double cells = static_cast<double>(cfg.grid()) * static_cast<double>(cfg.grid());
  if (cfg.uses_pool()) m.pool = static_cast<double>(cfg.pool) * cfg.model.channels * cells * 4.0;
  const double batch = cfg.batch;
  // max-steps is exclusive: the longest rollout has max-steps - 1 steps.
  m.rollout = batch * cells * static_cast<double>(std::max(1, cfg.max_steps - 1)) *
              rollout_bytes_per_cell_step;
  m.fixed = kFixedBytes;
  return m;
}

double machine_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0;
}

std::string format_bytes(double bytes) {
  if (bytes >= 1e12) return fmt::format("{:.0f} TB", bytes / 1e12);
  if (bytes >= 1e9) return fmt::format("{:.1f} GB", bytes / 1e9);
  if (bytes >= 1e6) return fmt::format("{:.0f} MB", bytes / 1e6);
  return fmt::format("{:.0f} KB", bytes / 1e3);
}

}  // namespace nca::limits
