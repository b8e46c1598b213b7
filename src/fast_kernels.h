// The vectorised tile kernels behind fast_step (docs/design.md §5), private to the library. A tile
// is up to kTileRows cells ("rows"); each row's 16 channels are one to sixteen vectors, so
// perception, the two 1x1 layers and their gradients run as small register-blocked products whose
// 128-wide hidden layer never leaves the cache. One source on Google Highway, compiled for every
// target Highway knows on this architecture and chosen at run time; no LibTorch here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nca::fast {

inline constexpr int kChannels = 16;     // state channels a cell
inline constexpr int kTileRows = 32;     // rows per tile: a tile's buffers stay in L1/L2
inline constexpr int kHiddenBlock = 64;  // the hidden layer is padded to a multiple of this:
                                         // four vectors of up to 16 floats, every target's block

// The update network in the layouts the kernels want. Perception inputs are ordered
// filter-major (k = filter * 16 + channel) so that each filter's output is one 16-float group;
// the hidden layer is padded with zero units to a multiple of kHiddenBlock (exact: a zero unit
// contributes nothing and its gradient is dropped).
struct Net {
  int filters = 4;       // 4: identity, sobel x, sobel y, laplace; 3: no laplace
  int inputs = 64;       // 16 * filters
  int hidden = 128;      // padded width
  bool rotated = false;  // the sobel pair is rotated by (cos_a, sin_a)
  float cos_a = 1, sin_a = 0;
  const float* w1 = nullptr;   // inputs x hidden
  const float* w1t = nullptr;  // hidden x inputs
  const float* b1 = nullptr;   // hidden
  const float* w2 = nullptr;   // 16 x hidden
  const float* w2t = nullptr;  // hidden x 16
  const float* b2 = nullptr;   // 16: the last layer's bias, or none (nullptr)
};

// One sample's channels-last state seen through a window; cells outside it read as zero, which
// is the zero padding at the grid border when the window is the whole grid.
struct View {
  const float* data = nullptr;  // the cell at (r0, c0)
  int r0 = 0, c0 = 0, rows = 0, cols = 0;
  int64_t stride = 0;  // floats from one window row to the next
};

// A cell that fires: sample, position in the grid, fire value (its multiplier of dx).
struct Row {
  int32_t n;
  int16_t i, j;
  float fire;
};

// Where a sample's cells live in a channels-last N x H x W x 16 buffer.
struct Grid {
  int64_t sample_stride;  // H * W * 16
  int64_t row_stride;     // W * 16
  float* at(float* base, const Row& r) const {
    return base + r.n * sample_stride + r.i * row_stride + int64_t{r.j} * kChannels;
  }
  const float* at(const float* base, const Row& r) const {
    return base + r.n * sample_stride + r.i * row_stride + int64_t{r.j} * kChannels;
  }
};

// Floats of scratch one thread needs for a tile.
inline int64_t scratch_floats(const Net& net) {
  return int64_t{kTileRows} * (net.inputs + net.hidden + 2 * kChannels) + 64;
}

// The kernels of one Highway target. Every target computes each output as the same sequence of
// float operations (sums in the same order, a fused multiply-add wherever the target has one),
// so targets with FMA agree bit for bit and the others within rounding.
struct Kernels {
  std::string target;  // Highway's name for the target in lower case: "avx3", "avx2", "sse4",
                       // "neon", "sve", "scalar", ...
  int64_t bit = 0;     // its HWY_TARGET bit (a lower bit is a better target)
  // out[row] = in[row] + fire * dx(row) for each row, perception read through views[row.n].
  void (*forward_tile)(const Net& net, const Row* rows, int count, const View* views,
                       const float* in, float* out, const Grid& grid, float* scratch) = nullptr;
  // Accumulates the parameter gradients of the rows given dL/dout (`grad`, read at each row's
  // cell): gw1 (inputs x hidden), gb1 (hidden), gw2 (16 x hidden). When dy is not null it
  // receives each row's dL/d(unrotated perception), `inputs` floats a row.
  void (*backward_tile)(const Net& net, const Row* rows, int count, const View* views,
                        const float* grad, const Grid& grid, float* dy, float* gw1, float* gb1,
                        float* gw2, float* scratch) = nullptr;
  // dL/dx through the perception for the cells of one window: out[cell] = direct[cell] * keep
  // + sum over its 3x3 neighbours of the transposed filters applied to their dy. `index` maps
  // each window cell (with a one-cell margin, (rows + 2) x (cols + 2)) to its row in dy or -1.
  void (*perception_backward)(const Net& net, const int32_t* index, const float* dy,
                              const uint8_t* keep, const float* direct, int64_t direct_stride,
                              int rows, int cols, float* out, int64_t out_stride) = nullptr;
};

// The kernels of every target compiled here that this CPU runs, best first (the first is the
// one Highway's dynamic dispatch picks).
const std::vector<Kernels>& supported_kernels();

// Every target compiled here, whether or not this CPU runs it (for messages).
std::vector<std::string> compiled_targets();

// The kernels of `target` (a name from supported_kernels), or nullptr when this CPU does not
// run it or it is no target at all.
const Kernels* find_kernels(std::string_view target);

}  // namespace nca::fast
