// The sizes nca accepts, in one place for every command. Each limit is far above any useful
// setting and well below what would exhaust memory or wrap an integer; a value beyond one is
// refused before any work (UsageError, exit 2) with the limit in the message.
#pragma once

#include <cstdint>
#include <string>

namespace nca {

struct TrainConfig;

namespace limits {

// Cells a side of any grid: a training grid (size + 2 pad), grow's --grid, a checkpoint's target.
inline constexpr int64_t kMaxGridSide = 8192;
// Pixels a side of the target image file, and the most --size may shrink it to.
inline constexpr int64_t kMaxImageSide = 4096;
// Pixels of one written frame, (grid x --scale)^2: 64 megapixels (256 MB as RGBA).
inline constexpr int64_t kMaxFramePixels = int64_t{64} << 20;
// Steps of one run of the automaton: train's --max-steps, grow's --steps, regen's --at and --steps.
inline constexpr int64_t kMaxSteps = 100000;
// State channels (RGBA and hidden) and the update network's hidden width.
inline constexpr int64_t kMaxChannels = 256;
inline constexpr int64_t kMaxHidden = 4096;
// GIF frame time, 1/100 s: the GIF format stores it in 16 bits.
inline constexpr int64_t kMaxGifDelay = 65535;
// Threads per core: more only queue behind each other (and load a shared machine).
inline constexpr int kThreadsPerCore = 4;

// The cores here (at least 1).
int cores();
// kThreadsPerCore x cores().
int max_threads();

// Each throws UsageError naming `flag`, the value and the limit.
void check_threads(const std::string& flag, int64_t threads);  // 0 (all cores) .. max_threads()
void check_steps(const std::string& flag, int64_t steps);      // 1 .. kMaxSteps
// A grid of h x w cells (what: how the user set it, e.g. "--grid 9000").
void check_grid(const std::string& what, int64_t h, int64_t w);
// Frames of an h x w grid upscaled `scale` times: at most kMaxFramePixels, with no overflow
// whatever the numbers.
void check_frame(int64_t h, int64_t w, int64_t scale);

// What one training process will hold in memory at its peak, in bytes: an estimate from the
// sizes, set above the peak resident memory of real runs (docs/robustness.md, "Memory").
// `cfg`: this process's config (a data-parallel rank's share of batch and pool).
struct MemoryEstimate {
  double pool = 0;     // the sample pool, every state full-size
  double rollout = 0;  // the longest rollout's states kept for backpropagation
  double fixed = 0;    // LibTorch and the program itself
  double total() const { return pool + rollout + fixed; }
};
// `rollout_bytes_per_cell_step`: what the step keeps for the backward pass
// (Stepper::rollout_bytes_per_cell_step).
MemoryEstimate estimate_training_memory(const TrainConfig& cfg, double rollout_bytes_per_cell_step);

// The machine's physical memory in bytes (0 when it cannot be read).
double machine_memory();

// "1.2 GB", "340 MB", "12 KB"
std::string format_bytes(double bytes);

}  // namespace limits
}  // namespace nca
