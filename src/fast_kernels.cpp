// The tile kernels of fast_step, written once on Google Highway: foreach_target.h compiles this
// file again for every target Highway knows here (SSE4, AVX2, AVX-512 on x86; NEON and SVE on
// Arm; a scalar fallback everywhere), and HWY_DYNAMIC_DISPATCH picks the best one the CPU runs.
// Register blocks are sized from the vector width (MaxLanes), not per instruction set.
//
// The arithmetic is the same on every target: each output is one chain of operations in a fixed
// order, per lane, with the fused multiply-adds written out (MulAdd); this file is compiled with
// -ffp-contract=off so that the compiler fuses nothing else on one target and not on another.
#include "fast_kernels.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fast_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

// The (row, vector) pairs of the largest register block, 8 rows by 4 vectors. The accumulators
// are named variables rather than an array: SVE's vectors are sizeless and cannot be elements.
// clang-format off
#ifndef NCA_BLOCK
#define NCA_BLOCK(X) \
  X(0, 0) X(0, 1) X(0, 2) X(0, 3) X(1, 0) X(1, 1) X(1, 2) X(1, 3) \
  X(2, 0) X(2, 1) X(2, 2) X(2, 3) X(3, 0) X(3, 1) X(3, 2) X(3, 3) \
  X(4, 0) X(4, 1) X(4, 2) X(4, 3) X(5, 0) X(5, 1) X(5, 2) X(5, 3) \
  X(6, 0) X(6, 1) X(6, 2) X(6, 3) X(7, 0) X(7, 1) X(7, 2) X(7, 3)
#define NCA_BLOCK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#endif
// clang-format on

HWY_BEFORE_NAMESPACE();
namespace nca::fast {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Vectors of at most one cell's 16 channels: a wider one (SVE beyond 512 bits) would only pad.
using D = hn::CappedTag<float, kChannels>;
using V = hn::Vec<D>;
constexpr size_t kMaxLanes = hn::MaxLanes(D());
constexpr size_t kC = kChannels;

// Vector registers a block may fill: 32 where vectors reach 512 bits (AVX-512, SVE), else 16
// (AVX2, SSE4; A64 NEON has 32, so there this is cautious). From the width, so that no target
// needs code of its own: AVX-512 gets blocks of 4 rows by 4 vectors, AVX2 and SSE4 4 by 2.
constexpr size_t kRegisters = kMaxLanes >= 16 ? 32 : 16;

// A register block: `rows` rows of C by `vectors` vectors. The most accumulators that fit beside
// a row of B and a broadcast; of those, the fewest loads per multiply-add (rows broadcasts and
// `vectors` loads of B serve rows x vectors of them: the squarest block); then the most rows, as
// B (the weights) is the operand that streams from the cache. `row_vectors` is C's width in
// vectors at the widest; rows is a power of two up to 8 (C's rows come in multiples of 8).
struct Block {
  size_t rows, vectors;
};
constexpr Block Blocking(size_t row_vectors) {
  Block best{1, 1};
  for (size_t v = 1; v <= 4; ++v) {
    if (row_vectors % v != 0) continue;
    for (size_t r = 1; r <= 8; r *= 2) {
      const size_t acc = r * v, best_acc = best.rows * best.vectors;
      const size_t loads = r + v, best_loads = best.rows + best.vectors;
      if (acc + v + 1 > kRegisters) continue;
      if (acc > best_acc || (acc == best_acc && loads < best_loads) ||
          (acc == best_acc && loads == best_loads && r > best.rows))
        best = {r, v};
    }
  }
  return best;
}

enum class Start { kZero, kBias, kFromC };  // what a block's accumulators start from
enum class End {
  kStore,           // C = the sums
  kRelu,            // C = max(sums, 0)
  kWhereCPositive,  // C = the sums where C was > 0, else 0
};

template <size_t R, size_t W, size_t RB, size_t CV, Start kStart>
HWY_INLINE V Begin(D d, const float* bias, const float* c, size_t ldc, size_t i, size_t j,
                   size_t n) {
  if constexpr (R >= RB || W >= CV || kStart == Start::kZero) {
    return hn::Zero(d);
  } else if constexpr (kStart == Start::kBias) {
    return hn::LoadU(d, bias + j + W * n);
  } else {
    return hn::LoadU(d, c + (i + R) * ldc + j + W * n);
  }
}

template <size_t W, size_t CV>
HWY_INLINE V LoadB(D d, const float* b, size_t n) {
  if constexpr (W < CV) {
    return hn::LoadU(d, b + W * n);
  } else {
    return hn::Zero(d);
  }
}

template <size_t R, size_t W, size_t RB, size_t CV, End kEnd>
HWY_INLINE void Finish(D d, V acc, float* c, size_t ldc, size_t i, size_t j, size_t n) {
  if constexpr (R < RB && W < CV) {
    float* p = c + (i + R) * ldc + j + W * n;
    if constexpr (kEnd == End::kRelu) acc = hn::IfThenElseZero(hn::Gt(acc, hn::Zero(d)), acc);
    if constexpr (kEnd == End::kWhereCPositive)
      acc = hn::IfThenElseZero(hn::Gt(hn::LoadU(d, p), hn::Zero(d)), acc);
    hn::StoreU(acc, d, p);
  }
}

// C (rows x cols, row stride ldc) = start + A B, where A's element (i, k) is a[i * sa + k * sk]
// and B is depth x cols with row stride ldb, in register blocks of RB rows by CV vectors. Each
// element of C is one chain of multiply-adds over k = 0, 1, ... whatever the block shape.
template <size_t RB, size_t CV, Start kStart, End kEnd>
HWY_INLINE void Product(size_t rows, size_t cols, size_t depth, const float* a, size_t sa,
                        size_t sk, const float* b, size_t ldb, const float* bias, float* c,
                        size_t ldc) {
  static_assert(RB >= 1 && RB <= 8 && CV >= 1 && CV <= 4, "blocks are at most 8 x 4 vectors");
  const D d;
  const size_t n = hn::Lanes(d);
  for (size_t i = 0; i < rows; i += RB) {
    for (size_t j = 0; j < cols; j += CV * n) {
#define NCA_DECLARE(r, w) \
  [[maybe_unused]] V acc##r##w = Begin<r, w, RB, CV, kStart>(d, bias, c, ldc, i, j, n);
      NCA_BLOCK(NCA_DECLARE)
#undef NCA_DECLARE
      const float* ak = a + i * sa;
      const float* bk = b + j;
      for (size_t k = 0; k < depth; ++k, ak += sk, bk += ldb) {
        const V b0 = LoadB<0, CV>(d, bk, n);
        [[maybe_unused]] const V b1 = LoadB<1, CV>(d, bk, n);
        [[maybe_unused]] const V b2 = LoadB<2, CV>(d, bk, n);
        [[maybe_unused]] const V b3 = LoadB<3, CV>(d, bk, n);
#define NCA_UPDATE(r)                                               \
  if constexpr (r < RB) {                                           \
    const V s = hn::Set(d, ak[r * sa]);                             \
    acc##r##0 = hn::MulAdd(b0, s, acc##r##0);                       \
    if constexpr (CV > 1) acc##r##1 = hn::MulAdd(b1, s, acc##r##1); \
    if constexpr (CV > 2) acc##r##2 = hn::MulAdd(b2, s, acc##r##2); \
    if constexpr (CV > 3) acc##r##3 = hn::MulAdd(b3, s, acc##r##3); \
  }
        NCA_BLOCK_ROWS(NCA_UPDATE)
#undef NCA_UPDATE
      }
#define NCA_FINISH(r, w) Finish<r, w, RB, CV, kEnd>(d, acc##r##w, c, ldc, i, j, n);
      NCA_BLOCK(NCA_FINISH)
#undef NCA_FINISH
    }
  }
}

// The blocks of the products below, from the vector width.
constexpr Block kHidden = Blocking(kHiddenBlock / kMaxLanes);  // across the hidden layer
constexpr Block kOut = Blocking(kC / kMaxLanes);               // across one cell's 16 channels
template <int F>
constexpr Block kInput = Blocking(16 * F / kMaxLanes);  // across the perception

// The zero cell that neighbours outside a view read.
alignas(64) constexpr float kZeroCell[kChannels] = {};

// The 3x3 neighbourhood of cell (i, j) through a view: pointers, zero outside it.
HWY_INLINE void Neighbourhood(const View& v, int i, int j, const float* p[9]) {
  for (int a = 0; a < 3; ++a) {
    const int ii = i + a - 1 - v.r0;
    const bool row_ok = ii >= 0 && ii < v.rows;
    for (int b = 0; b < 3; ++b) {
      const int jj = j + b - 1 - v.c0;
      p[a * 3 + b] = row_ok && jj >= 0 && jj < v.cols
                         ? v.data + ii * v.stride + int64_t{jj} * kChannels
                         : kZeroCell;
    }
  }
}

// Perception of one cell, filter-major: identity, sobel_x/8, sobel_y/8 (rotated), laplace/8.
template <int F>
HWY_INLINE void Perceive(const Net& net, const View& view, int i, int j, float* y) {
  const D d;
  const float* p[9];
  Neighbourhood(view, i, j, p);
  const V two = hn::Set(d, 2.0f), four = hn::Set(d, 4.0f), eighth = hn::Set(d, 0.125f);
  const V cos_a = hn::Set(d, net.cos_a), sin_a = hn::Set(d, net.sin_a);
  for (size_t c = 0; c < kC; c += hn::Lanes(d)) {
    const V x00 = hn::LoadU(d, p[0] + c), x01 = hn::LoadU(d, p[1] + c);
    const V x02 = hn::LoadU(d, p[2] + c), x10 = hn::LoadU(d, p[3] + c);
    const V x11 = hn::LoadU(d, p[4] + c), x12 = hn::LoadU(d, p[5] + c);
    const V x20 = hn::LoadU(d, p[6] + c), x21 = hn::LoadU(d, p[7] + c);
    const V x22 = hn::LoadU(d, p[8] + c);
    V sx = hn::Mul(
        hn::Add(hn::Add(hn::Sub(x02, x00), hn::Mul(hn::Sub(x12, x10), two)), hn::Sub(x22, x20)),
        eighth);
    V sy = hn::Mul(
        hn::Add(hn::Add(hn::Sub(x20, x00), hn::Mul(hn::Sub(x21, x01), two)), hn::Sub(x22, x02)),
        eighth);
    if (net.rotated) {
      const V rx = hn::MulSub(sx, cos_a, hn::Mul(sy, sin_a));
      sy = hn::MulAdd(sx, sin_a, hn::Mul(sy, cos_a));
      sx = rx;
    }
    hn::StoreU(x11, d, y + c);
    hn::StoreU(sx, d, y + kC + c);
    hn::StoreU(sy, d, y + 2 * kC + c);
    if constexpr (F == 4) {
      const V around = hn::Add(hn::Add(x01, x10), hn::Add(x12, x21));
      hn::StoreU(hn::Mul(hn::Sub(around, hn::Mul(x11, four)), eighth), d, y + 3 * kC + c);
    }
  }
}

// Rows of a tile rounded up to the blocks' multiple; the extra rows are zeros.
inline size_t Padded(size_t count) { return (count + 7) / 8 * 8; }

// y = the perception of the rows (count x 16F, zero rows up to Padded(count)); then
// h = relu(y W1 + b1).
template <int F>
HWY_INLINE void HiddenLayer(const Net& net, const Row* rows, size_t count, const View* views,
                            float* y, float* h) {
  constexpr size_t K = 16 * F;
  const size_t H = static_cast<size_t>(net.hidden), padded = Padded(count);
  for (size_t r = 0; r < count; ++r)
    Perceive<F>(net, views[rows[r].n], rows[r].i, rows[r].j, y + r * K);
  std::memset(y + count * K, 0, sizeof(float) * (padded - count) * K);
  Product<kHidden.rows, kHidden.vectors, Start::kBias, End::kRelu>(padded, H, K, y, K, 1, net.w1, H,
                                                                   net.b1, h, H);
}

template <int F>
void ForwardTileF(const Net& net, const Row* rows, int count_in, const View* views, const float* in,
                  float* out, const Grid& grid, float* scratch) {
  constexpr size_t K = 16 * F;
  const D d;
  const size_t H = static_cast<size_t>(net.hidden), count = static_cast<size_t>(count_in);
  float* y = scratch;             // kTileRows x K
  float* h = y + kTileRows * K;   // kTileRows x H
  float* dx = h + kTileRows * H;  // kTileRows x 16
  HiddenLayer<F>(net, rows, count, views, y, h);
  // dx = h W2^T (+ b2)
  if (net.b2 != nullptr)
    Product<kOut.rows, kOut.vectors, Start::kBias, End::kStore>(Padded(count), kC, H, h, H, 1,
                                                                net.w2t, kC, net.b2, dx, kC);
  else
    Product<kOut.rows, kOut.vectors, Start::kZero, End::kStore>(Padded(count), kC, H, h, H, 1,
                                                                net.w2t, kC, nullptr, dx, kC);
  for (size_t r = 0; r < count; ++r) {
    const Row& row = rows[r];
    const V fire = hn::Set(d, row.fire);
    const float* x = grid.at(in, row);
    float* o = grid.at(out, row);
    for (size_t c = 0; c < kC; c += hn::Lanes(d))
      hn::StoreU(hn::MulAdd(hn::LoadU(d, dx + r * kC + c), fire, hn::LoadU(d, x + c)), d, o + c);
  }
}

template <int F>
void BackwardTileF(const Net& net, const Row* rows, int count_in, const View* views,
                   const float* grad, const Grid& grid, float* dy, float* gw1, float* gb1,
                   float* gw2, float* scratch) {
  constexpr size_t K = 16 * F;
  const D d;
  const size_t n = hn::Lanes(d);
  const size_t H = static_cast<size_t>(net.hidden), count = static_cast<size_t>(count_in);
  const size_t padded = Padded(count);
  float* y = scratch;             // kTileRows x K
  float* h = y + kTileRows * K;   // kTileRows x H: relu(z), then dL/dz
  float* dd = h + kTileRows * H;  // kTileRows x 16: dL/d(dx)
  for (size_t r = 0; r < count; ++r) {
    const V fire = hn::Set(d, rows[r].fire);
    const float* g = grid.at(grad, rows[r]);
    for (size_t c = 0; c < kC; c += n)
      hn::StoreU(hn::Mul(hn::LoadU(d, g + c), fire), d, dd + r * kC + c);
  }
  std::memset(dd + count * kC, 0, sizeof(float) * (padded - count) * kC);
  HiddenLayer<F>(net, rows, count, views, y, h);  // recomputed: only the state was kept

  // gw2[o][j] += sum_r dd[r][o] h[r][j]
  Product<kHidden.rows, kHidden.vectors, Start::kFromC, End::kStore>(kC, H, padded, dd, 1, kC, h, H,
                                                                     nullptr, gw2, H);
  // dz[r][j] = (sum_o dd[r][o] w2[o][j]) where h > 0, written over h.
  Product<kHidden.rows, kHidden.vectors, Start::kZero, End::kWhereCPositive>(
      padded, H, kC, dd, kC, 1, net.w2, H, nullptr, h, H);
  // gw1[k][j] += sum_r y[r][k] dz[r][j]; gb1[j] += sum_r dz[r][j]
  Product<kHidden.rows, kHidden.vectors, Start::kFromC, End::kStore>(K, H, padded, y, 1, K, h, H,
                                                                     nullptr, gw1, H);
  for (size_t j = 0; j < H; j += n) {
    V acc = hn::LoadU(d, gb1 + j);
    for (size_t r = 0; r < padded; ++r) acc = hn::Add(acc, hn::LoadU(d, h + r * H + j));
    hn::StoreU(acc, d, gb1 + j);
  }

  if (dy == nullptr) return;
  // dy[r] = dz[r] W1^T (into y, which is no longer needed), then un-rotated so that the
  // transposed filters are the plain ones.
  Product<kInput<F>.rows, kInput<F>.vectors, Start::kZero, End::kStore>(padded, K, H, h, H, 1,
                                                                        net.w1t, K, nullptr, y, K);
  const V cos_a = hn::Set(d, net.cos_a), sin_a = hn::Set(d, net.sin_a);
  for (size_t r = 0; r < count; ++r) {
    const float* src = y + r * K;
    float* dst = dy + r * K;
    std::memcpy(dst, src, sizeof(float) * K);
    if (!net.rotated) continue;
    for (size_t c = 0; c < kC; c += n) {
      const V gx = hn::LoadU(d, src + kC + c), gy = hn::LoadU(d, src + 2 * kC + c);
      hn::StoreU(hn::MulAdd(gx, cos_a, hn::Mul(gy, sin_a)), d, dst + kC + c);
      hn::StoreU(hn::MulSub(gy, cos_a, hn::Mul(gx, sin_a)), d, dst + 2 * kC + c);
    }
  }
}

template <int F>
void PerceptionBackwardF(const int32_t* index, const float* dy, const uint8_t* keep,
                         const float* direct, int64_t direct_stride, int rows, int cols, float* out,
                         int64_t out_stride) {
  constexpr size_t K = 16 * F;
  const D d;
  const V four = hn::Set(d, 4.0f), eighth = hn::Set(d, 0.125f);
  const int icols = cols + 2;
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) {
      const float* dp = direct + i * direct_stride + int64_t{j} * kChannels;
      float* op = out + i * out_stride + int64_t{j} * kChannels;
      const bool kept = keep[i * cols + j] != 0;
      // Neighbour (i + a - 1, j + b - 1)'s dy reaches this cell through the filters flipped:
      // the identity and laplace are symmetric, the sobels change sign.
      const int32_t* idx = index + i * icols + j;  // the margin shifts (i-1, j-1) to (i, j)
      for (size_t c = 0; c < kC; c += hn::Lanes(d)) {
        V g = kept ? hn::LoadU(d, dp + c) : hn::Zero(d);
        V sx = hn::Zero(d), sy = hn::Zero(d), lap = hn::Zero(d);
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b) {
            const int32_t nb = idx[a * icols + b];
            if (nb < 0) continue;
            const float* q = dy + int64_t{nb} * static_cast<int64_t>(K) + c;
            const float wx = static_cast<float>((1 - b) * (a == 1 ? 2 : 1));  // -sobel_x flipped
            const float wy = static_cast<float>((1 - a) * (b == 1 ? 2 : 1));
            if (a == 1 && b == 1) g = hn::Add(g, hn::LoadU(d, q));
            if (b != 1) sx = hn::MulAdd(hn::LoadU(d, q + kC), hn::Set(d, wx), sx);
            if (a != 1) sy = hn::MulAdd(hn::LoadU(d, q + 2 * kC), hn::Set(d, wy), sy);
            if constexpr (F == 4) {
              if (a == 1 && b == 1)
                lap = hn::NegMulAdd(hn::LoadU(d, q + 3 * kC), four, lap);
              else if (a == 1 || b == 1)
                lap = hn::Add(lap, hn::LoadU(d, q + 3 * kC));
            }
          }
        hn::StoreU(hn::MulAdd(hn::Add(hn::Add(sx, sy), lap), eighth, g), d, op + c);
      }
    }
  }
}

void ForwardTile(const Net& net, const Row* rows, int count, const View* views, const float* in,
                 float* out, const Grid& grid, float* scratch) {
  if (net.filters == 4)
    ForwardTileF<4>(net, rows, count, views, in, out, grid, scratch);
  else
    ForwardTileF<3>(net, rows, count, views, in, out, grid, scratch);
}

void BackwardTile(const Net& net, const Row* rows, int count, const View* views, const float* grad,
                  const Grid& grid, float* dy, float* gw1, float* gb1, float* gw2, float* scratch) {
  if (net.filters == 4)
    BackwardTileF<4>(net, rows, count, views, grad, grid, dy, gw1, gb1, gw2, scratch);
  else
    BackwardTileF<3>(net, rows, count, views, grad, grid, dy, gw1, gb1, gw2, scratch);
}

void PerceptionBackward(const Net& net, const int32_t* index, const float* dy, const uint8_t* keep,
                        const float* direct, int64_t direct_stride, int rows, int cols, float* out,
                        int64_t out_stride) {
  if (net.filters == 4)
    PerceptionBackwardF<4>(index, dy, keep, direct, direct_stride, rows, cols, out, out_stride);
  else
    PerceptionBackwardF<3>(index, dy, keep, direct, direct_stride, rows, cols, out, out_stride);
}

}  // namespace HWY_NAMESPACE
}  // namespace nca::fast
HWY_AFTER_NAMESPACE();

namespace nca::fast {
namespace HWY_NAMESPACE {
// This target's kernels. Compiled outside the target's attributes (after HWY_AFTER_NAMESPACE):
// it only takes addresses, so it may be called for a target the CPU cannot run.
Kernels Describe() {
  Kernels k;
  k.target = hwy::TargetName(HWY_TARGET);
  std::transform(k.target.begin(), k.target.end(), k.target.begin(),
                 [](char ch) { return static_cast<char>(std::tolower(ch)); });
  k.bit = HWY_TARGET;
  k.forward_tile = &ForwardTile;
  k.backward_tile = &BackwardTile;
  k.perception_backward = &PerceptionBackward;
  return k;
}
}  // namespace HWY_NAMESPACE
}  // namespace nca::fast

#if HWY_ONCE
namespace nca::fast {

HWY_EXPORT(Describe);

namespace {

// Every compiled target, from Highway's dispatch table (one entry a target, nullptr for those
// not compiled, and Highway's own chooser first: a duplicate, dropped).
std::vector<Kernels> compiled() {
  std::vector<Kernels> all;
  for (auto* describe : HWY_DISPATCH_TABLE(Describe)) {
    if (describe == nullptr) continue;
    Kernels k = describe();
    if (std::none_of(all.begin(), all.end(), [&](const Kernels& o) { return o.bit == k.bit; }))
      all.push_back(std::move(k));
  }
  // Highway numbers targets best first on each architecture.
  std::sort(all.begin(), all.end(),
            [](const Kernels& a, const Kernels& b) { return a.bit < b.bit; });
  return all;
}

}  // namespace

const std::vector<Kernels>& supported_kernels() {
  static const std::vector<Kernels> supported = [] {
    const int64_t cpu = hwy::SupportedTargets();
    std::vector<Kernels> all = compiled(), runs;
    for (auto& k : all)
      if ((cpu & k.bit) != 0) runs.push_back(std::move(k));
    // Highway's own choice first (the best of them, as it is).
    const int64_t best = HWY_DYNAMIC_DISPATCH(Describe)().bit;
    std::stable_partition(runs.begin(), runs.end(),
                          [&](const Kernels& k) { return k.bit == best; });
    return runs;
  }();
  return supported;
}

std::vector<std::string> compiled_targets() {
  std::vector<std::string> names;
  for (const auto& k : compiled()) names.push_back(k.target);
  return names;
}

const Kernels* find_kernels(std::string_view target) {
  for (const auto& k : supported_kernels())
    if (k.target == target) return &k;
  return nullptr;
}

}  // namespace nca::fast
#endif  // HWY_ONCE
