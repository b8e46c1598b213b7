// The tile kernels of fast_step, written once with GCC/Clang vector extensions (a 16-float vector
// is one AVX-512 register, two AVX2 ones) and compiled for AVX-512, AVX2+FMA and the baseline;
// kernels() picks the best the CPU has. This file is built with -ffp-contract=fast so that
// a += b * c becomes one fused multiply-add.
#include "fast_kernels.h"

#include <cstdlib>
#include <cstring>
#include <string>

namespace nca::fast {
namespace {

typedef float v16 __attribute__((vector_size(64), aligned(4)));

#define NCA_INLINE inline __attribute__((always_inline))

NCA_INLINE v16 load(const float* p) { return *reinterpret_cast<const v16*>(p); }
NCA_INLINE void store(float* p, v16 v) { *reinterpret_cast<v16*>(p) = v; }
NCA_INLINE v16 splat(float s) { return v16{} + s; }
NCA_INLINE v16 relu(v16 v) { return v > 0 ? v : v16{}; }

alignas(64) const float kZero[kChannels] = {};

// The 3x3 neighbourhood of cell (i, j) through a view: pointers, zero outside it.
NCA_INLINE void neighbourhood(const View& v, int i, int j, const float* p[9]) {
  for (int a = 0; a < 3; ++a) {
    const int ii = i + a - 1 - v.r0;
    const bool row_ok = ii >= 0 && ii < v.rows;
    for (int b = 0; b < 3; ++b) {
      const int jj = j + b - 1 - v.c0;
      p[a * 3 + b] = row_ok && jj >= 0 && jj < v.cols
                         ? v.data + ii * v.stride + int64_t{jj} * kChannels
                         : kZero;
    }
  }
}

// Perception of one cell, filter-major: identity, sobel_x/8, sobel_y/8 (rotated), laplace/8.
template <int F>
NCA_INLINE void perceive(const Net& net, const View& v, int i, int j, float* y) {
  const float* p[9];
  neighbourhood(v, i, j, p);
  const v16 x00 = load(p[0]), x01 = load(p[1]), x02 = load(p[2]);
  const v16 x10 = load(p[3]), x11 = load(p[4]), x12 = load(p[5]);
  const v16 x20 = load(p[6]), x21 = load(p[7]), x22 = load(p[8]);
  v16 sx = ((x02 - x00) + (x12 - x10) * 2.0f + (x22 - x20)) * 0.125f;
  v16 sy = ((x20 - x00) + (x21 - x01) * 2.0f + (x22 - x02)) * 0.125f;
  if (net.rotated) {
    const v16 rx = sx * net.cos_a - sy * net.sin_a;
    sy = sx * net.sin_a + sy * net.cos_a;
    sx = rx;
  }
  store(y, x11);
  store(y + 16, sx);
  store(y + 32, sy);
  if constexpr (F == 4) store(y + 48, ((x01 + x10) + (x12 + x21) - x11 * 4.0f) * 0.125f);
}

// h = relu(Y W1 + b1) for `count` rows (a multiple of RB); Y is count x inputs.
template <int F, int RB>
NCA_INLINE void hidden_layer(const Net& net, const float* y, int count, float* h) {
  constexpr int K = 16 * F;
  const int H = net.hidden;
  for (int r = 0; r < count; r += RB) {
    for (int jb = 0; jb < H; jb += kHiddenBlock) {
      v16 acc[RB][4];
      for (int v = 0; v < 4; ++v) {
        const v16 b = load(net.b1 + jb + 16 * v);
        for (int rr = 0; rr < RB; ++rr) acc[rr][v] = b;
      }
      const float* w = net.w1 + jb;
      const float* yr = y + r * K;
      for (int k = 0; k < K; ++k, w += H) {
        const v16 w0 = load(w), w1 = load(w + 16), w2 = load(w + 32), w3 = load(w + 48);
#pragma GCC unroll 8
        for (int rr = 0; rr < RB; ++rr) {
          const float s = yr[rr * K + k];
          acc[rr][0] += w0 * s;
          acc[rr][1] += w1 * s;
          acc[rr][2] += w2 * s;
          acc[rr][3] += w3 * s;
        }
      }
      for (int rr = 0; rr < RB; ++rr)
        for (int v = 0; v < 4; ++v) store(h + (r + rr) * H + jb + 16 * v, relu(acc[rr][v]));
    }
  }
}

template <int F, int RB>
void forward_tile(const Net& net, const Row* rows, int count, const View* views, const float* in,
                  float* out, const Grid& grid, float* scratch) {
  constexpr int K = 16 * F;
  const int H = net.hidden;
  float* y = scratch;            // kTileRows x K
  float* h = y + kTileRows * K;  // kTileRows x H
  const int padded = (count + 7) / 8 * 8;
  for (int r = 0; r < count; ++r)
    perceive<F>(net, views[rows[r].n], rows[r].i, rows[r].j, y + r * K);
  std::memset(y + count * K, 0, sizeof(float) * (padded - count) * K);
  hidden_layer<F, RB>(net, y, padded, h);
  // dx = h W2^T, eight rows at a time: one vector of 16 outputs per row.
  for (int r = 0; r < padded; r += 8) {
    v16 acc[8];
    for (int rr = 0; rr < 8; ++rr) acc[rr] = v16{};
    const float* hr = h + r * H;
    for (int j = 0; j < H; ++j) {
      const v16 w = load(net.w2t + j * 16);
#pragma GCC unroll 8
      for (int rr = 0; rr < 8; ++rr) acc[rr] += w * hr[rr * H + j];
    }
    for (int rr = 0; rr < 8 && r + rr < count; ++rr) {
      const Row& row = rows[r + rr];
      store(grid.at(out, row), load(grid.at(in, row)) + acc[rr] * row.fire);
    }
  }
}

template <int F, int RB>
void backward_tile(const Net& net, const Row* rows, int count, const View* views, const float* grad,
                   const Grid& grid, float* dy, float* gw1, float* gb1, float* gw2,
                   float* scratch) {
  constexpr int K = 16 * F;
  const int H = net.hidden;
  float* y = scratch;             // kTileRows x K
  float* h = y + kTileRows * K;   // kTileRows x H: relu(z), then dL/dz
  float* dd = h + kTileRows * H;  // kTileRows x 16: dL/d(dx)
  const int padded = (count + RB - 1) / RB * RB;
  for (int r = 0; r < count; ++r) {
    const Row& row = rows[r];
    perceive<F>(net, views[row.n], row.i, row.j, y + r * K);
    store(dd + r * 16, load(grid.at(grad, row)) * row.fire);
  }
  std::memset(y + count * K, 0, sizeof(float) * (padded - count) * K);
  std::memset(dd + count * 16, 0, sizeof(float) * (padded - count) * 16);
  hidden_layer<F, RB>(net, y, padded, h);  // recomputed: only the state was kept

  // gw2[o][j] += sum_r dd[r][o] h[r][j]
  for (int ob = 0; ob < 16; ob += 4)
    for (int jb = 0; jb < H; jb += kHiddenBlock) {
      v16 acc[4][4];
      for (int o = 0; o < 4; ++o)
        for (int v = 0; v < 4; ++v) acc[o][v] = load(gw2 + (ob + o) * H + jb + 16 * v);
      for (int r = 0; r < padded; ++r) {
        const float* hr = h + r * H + jb;
        const v16 h0 = load(hr), h1 = load(hr + 16), h2 = load(hr + 32), h3 = load(hr + 48);
        for (int o = 0; o < 4; ++o) {
          const float s = dd[r * 16 + ob + o];
          acc[o][0] += h0 * s;
          acc[o][1] += h1 * s;
          acc[o][2] += h2 * s;
          acc[o][3] += h3 * s;
        }
      }
      for (int o = 0; o < 4; ++o)
        for (int v = 0; v < 4; ++v) store(gw2 + (ob + o) * H + jb + 16 * v, acc[o][v]);
    }

  // dz[r][j] = (sum_o dd[r][o] w2[o][j]) where h > 0, written over h.
  for (int r = 0; r < padded; r += RB)
    for (int jb = 0; jb < H; jb += kHiddenBlock) {
      v16 acc[RB][4];
      for (int rr = 0; rr < RB; ++rr)
        for (int v = 0; v < 4; ++v) acc[rr][v] = v16{};
      for (int o = 0; o < 16; ++o) {
        const float* w = net.w2 + o * H + jb;
        const v16 w0 = load(w), w1 = load(w + 16), w2 = load(w + 32), w3 = load(w + 48);
#pragma GCC unroll 8
        for (int rr = 0; rr < RB; ++rr) {
          const float s = dd[(r + rr) * 16 + o];
          acc[rr][0] += w0 * s;
          acc[rr][1] += w1 * s;
          acc[rr][2] += w2 * s;
          acc[rr][3] += w3 * s;
        }
      }
      for (int rr = 0; rr < RB; ++rr)
        for (int v = 0; v < 4; ++v) {
          float* p = h + (r + rr) * H + jb + 16 * v;
          store(p, load(p) > 0 ? acc[rr][v] : v16{});
        }
    }

  // gw1[k][j] += sum_r y[r][k] dz[r][j]; gb1[j] += sum_r dz[r][j]
  for (int jb = 0; jb < H; jb += kHiddenBlock) {
    for (int kb = 0; kb < K; kb += 4) {
      v16 acc[4][4];
      for (int kk = 0; kk < 4; ++kk)
        for (int v = 0; v < 4; ++v) acc[kk][v] = load(gw1 + (kb + kk) * H + jb + 16 * v);
      for (int r = 0; r < padded; ++r) {
        const float* dz = h + r * H + jb;
        const v16 d0 = load(dz), d1 = load(dz + 16), d2 = load(dz + 32), d3 = load(dz + 48);
        for (int kk = 0; kk < 4; ++kk) {
          const float s = y[r * K + kb + kk];
          acc[kk][0] += d0 * s;
          acc[kk][1] += d1 * s;
          acc[kk][2] += d2 * s;
          acc[kk][3] += d3 * s;
        }
      }
      for (int kk = 0; kk < 4; ++kk)
        for (int v = 0; v < 4; ++v) store(gw1 + (kb + kk) * H + jb + 16 * v, acc[kk][v]);
    }
    v16 acc[4];
    for (int v = 0; v < 4; ++v) acc[v] = load(gb1 + jb + 16 * v);
    for (int r = 0; r < padded; ++r)
      for (int v = 0; v < 4; ++v) acc[v] += load(h + r * H + jb + 16 * v);
    for (int v = 0; v < 4; ++v) store(gb1 + jb + 16 * v, acc[v]);
  }

  if (dy == nullptr) return;
  // dy[r] = dz[r] W1^T, then un-rotated so that the transposed filters are the plain ones.
  for (int r = 0; r < padded; r += RB) {
    v16 acc[RB][F];
    for (int rr = 0; rr < RB; ++rr)
      for (int v = 0; v < F; ++v) acc[rr][v] = v16{};
    for (int j = 0; j < H; ++j) {
      v16 w[F];
      for (int v = 0; v < F; ++v) w[v] = load(net.w1t + j * K + 16 * v);
#pragma GCC unroll 8
      for (int rr = 0; rr < RB; ++rr) {
        const float s = h[(r + rr) * H + j];
        for (int v = 0; v < F; ++v) acc[rr][v] += w[v] * s;
      }
    }
    for (int rr = 0; rr < RB && r + rr < count; ++rr) {
      if (net.rotated) {
        const v16 gx = acc[rr][1], gy = acc[rr][2];
        acc[rr][1] = gx * net.cos_a + gy * net.sin_a;
        acc[rr][2] = gy * net.cos_a - gx * net.sin_a;
      }
      for (int v = 0; v < F; ++v) store(dy + (r + rr) * K + 16 * v, acc[rr][v]);
    }
  }
}

template <int F>
void perception_backward(const Net& net, const int32_t* index, const float* dy, const uint8_t* keep,
                         const float* direct, int64_t direct_stride, int rows, int cols, float* out,
                         int64_t out_stride) {
  constexpr int K = 16 * F;
  const int icols = cols + 2;
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) {
      const float* dp = direct + i * direct_stride + int64_t{j} * kChannels;
      v16 g = keep[i * cols + j] ? load(dp) : v16{};
      // Neighbour (i + a - 1, j + b - 1)'s dy reaches this cell through the filters flipped:
      // the identity and laplace are symmetric, the sobels change sign.
      const int32_t* idx = index + i * icols + j;  // the margin shifts (i-1, j-1) to (i, j)
      v16 sx{}, sy{}, lap{};
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
          const int32_t n = idx[a * icols + b];
          if (n < 0) continue;
          const float* d = dy + int64_t{n} * K;
          const float wx = static_cast<float>((1 - b) * (a == 1 ? 2 : 1));  // -sobel_x flipped
          const float wy = static_cast<float>((1 - a) * (b == 1 ? 2 : 1));
          if (a == 1 && b == 1) g += load(d);
          if (b != 1) sx += load(d + 16) * wx;
          if (a != 1) sy += load(d + 32) * wy;
          if constexpr (F == 4) {
            if (a == 1 && b == 1)
              lap -= load(d + 48) * 4.0f;
            else if (a == 1 || b == 1)
              lap += load(d + 48);
          }
        }
      g += (sx + sy + lap) * 0.125f;
      store(out + i * out_stride + int64_t{j} * kChannels, g);
    }
  }
}

template <int RB>
struct Table {
  static void forward(const Net& net, const Row* rows, int count, const View* views,
                      const float* in, float* out, const Grid& grid, float* scratch) {
    if (net.filters == 4)
      forward_tile<4, RB>(net, rows, count, views, in, out, grid, scratch);
    else
      forward_tile<3, RB>(net, rows, count, views, in, out, grid, scratch);
  }
  static void backward(const Net& net, const Row* rows, int count, const View* views,
                       const float* grad, const Grid& grid, float* dy, float* gw1, float* gb1,
                       float* gw2, float* scratch) {
    if (net.filters == 4)
      backward_tile<4, RB>(net, rows, count, views, grad, grid, dy, gw1, gb1, gw2, scratch);
    else
      backward_tile<3, RB>(net, rows, count, views, grad, grid, dy, gw1, gb1, gw2, scratch);
  }
  static void perception(const Net& net, const int32_t* index, const float* dy, const uint8_t* keep,
                         const float* direct, int64_t direct_stride, int rows, int cols, float* out,
                         int64_t out_stride) {
    if (net.filters == 4)
      perception_backward<4>(net, index, dy, keep, direct, direct_stride, rows, cols, out,
                             out_stride);
    else
      perception_backward<3>(net, index, dy, keep, direct, direct_stride, rows, cols, out,
                             out_stride);
  }
};

}  // namespace

// One copy of the kernels per instruction set: the same source, compiled with each target's
// flags (everything above is inlined into these entry points).
#define NCA_KERNEL_SET(NAME, ATTR, RB)                                                         \
  ATTR void NAME##_forward(const Net& net, const Row* rows, int count, const View* views,      \
                           const float* in, float* out, const Grid& grid, float* scratch) {    \
    Table<RB>::forward(net, rows, count, views, in, out, grid, scratch);                       \
  }                                                                                            \
  ATTR void NAME##_backward(const Net& net, const Row* rows, int count, const View* views,     \
                            const float* grad, const Grid& grid, float* dy, float* gw1,        \
                            float* gb1, float* gw2, float* scratch) {                          \
    Table<RB>::backward(net, rows, count, views, grad, grid, dy, gw1, gb1, gw2, scratch);      \
  }                                                                                            \
  ATTR void NAME##_perception(const Net& net, const int32_t* index, const float* dy,           \
                              const uint8_t* keep, const float* direct, int64_t direct_stride, \
                              int rows, int cols, float* out, int64_t out_stride) {            \
    Table<RB>::perception(net, index, dy, keep, direct, direct_stride, rows, cols, out,        \
                          out_stride);                                                         \
  }

NCA_KERNEL_SET(generic, , 2)
#if defined(__x86_64__) && defined(__GNUC__)
#define NCA_HAVE_X86_KERNELS 1
NCA_KERNEL_SET(avx2, __attribute__((target("avx2,fma"), flatten)), 2)
NCA_KERNEL_SET(avx512, __attribute__((target("avx512f,avx512vl,avx2,fma"), flatten)), 4)
#endif

const Kernels& kernels() {
  static const Kernels chosen = [] {
    // NCA_FAST_KERNELS=generic|avx2 picks a lesser set, so that the tests can cover every set
    // on a machine that has the best one.
    const char* env = std::getenv("NCA_FAST_KERNELS");
    const std::string want = env ? env : "";
#ifdef NCA_HAVE_X86_KERNELS
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (__builtin_cpu_supports("avx512f") && avx2 && want != "avx2" && want != "generic")
      return Kernels{"avx512", avx512_forward, avx512_backward, avx512_perception};
    if (avx2 && want != "generic")
      return Kernels{"avx2", avx2_forward, avx2_backward, avx2_perception};
#endif
    return Kernels{"generic", generic_forward, generic_backward, generic_perception};
  }();
  return chosen;
}

}  // namespace nca::fast
