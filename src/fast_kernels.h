// The vectorised tile kernels behind fast_step (DESIGN §5), private to the library. A tile is up
// to kTileRows cells ("rows"); each row's 16 channels are one 16-float vector, so perception, the
// two 1x1 layers and their gradients run as small register-blocked products whose 128-wide hidden
// layer never leaves the cache. Compiled once per instruction set and picked at run time.
#pragma once

#include <cstdint>

namespace nca::fast {

inline constexpr int kChannels = 16;     // state channels: one vector per cell
inline constexpr int kTileRows = 32;     // rows per tile: a tile's buffers stay in L1/L2
inline constexpr int kHiddenBlock = 64;  // hidden units per register block

// The update network in the layouts the kernels want. Perception inputs are ordered
// filter-major (k = filter * 16 + channel) so that each filter's output is one vector; the
// hidden layer is padded with zero units to a multiple of kHiddenBlock (exact: a zero unit
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

struct Kernels {
  const char* isa;  // which instruction set these were compiled for
  // out[row] = in[row] + fire * dx(row) for each row, perception read through views[row.n].
  void (*forward_tile)(const Net& net, const Row* rows, int count, const View* views,
                       const float* in, float* out, const Grid& grid, float* scratch);
  // Accumulates the parameter gradients of the rows given dL/dout (`grad`, read at each row's
  // cell): gw1 (inputs x hidden), gb1 (hidden), gw2 (16 x hidden). When dy is not null it
  // receives each row's dL/d(unrotated perception), `inputs` floats a row.
  void (*backward_tile)(const Net& net, const Row* rows, int count, const View* views,
                        const float* grad, const Grid& grid, float* dy, float* gw1, float* gb1,
                        float* gw2, float* scratch);
  // dL/dx through the perception for the cells of one window: out[cell] = direct[cell] * keep
  // + sum over its 3x3 neighbours of the transposed filters applied to their dy. `index` maps
  // each window cell (with a one-cell margin, (rows + 2) x (cols + 2)) to its row in dy or -1.
  void (*perception_backward)(const Net& net, const int32_t* index, const float* dy,
                              const uint8_t* keep, const float* direct, int64_t direct_stride,
                              int rows, int cols, float* out, int64_t out_stride);
};

// The best kernels this CPU runs.
const Kernels& kernels();

}  // namespace nca::fast
