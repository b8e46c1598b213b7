// Times the fast step's tile kernels alone, for every Highway target this CPU runs: forward_tile
// and backward_tile over the firing cells of a batch like a grown one (8 samples of 72x72, a
// 32x32 block of each about half firing), one thread, the best of REPS passes, in ns per cell.
// What docs/performance.md chose the register blocks with; no LibTorch.
//   nca_kernel_bench [REPS]      (default 20)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "fast_kernels.h"

using namespace nca::fast;

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 20;
  constexpr int F = 4, K = 16 * F, H = 128, N = 8, S = 72;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-0.3f, 0.3f);
  std::vector<float> w1(K * H), w1t(H * K), b1(H), w2(kChannels * H), w2t(H * kChannels);
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < H; ++j) w1t[j * K + k] = w1[k * H + j] = u(rng);
  for (auto& v : b1) v = u(rng);
  for (int o = 0; o < kChannels; ++o)
    for (int j = 0; j < H; ++j) w2t[j * kChannels + o] = w2[o * H + j] = u(rng);
  Net net;
  net.filters = F;
  net.inputs = K;
  net.hidden = H;
  net.w1 = w1.data();
  net.w1t = w1t.data();
  net.b1 = b1.data();
  net.w2 = w2.data();
  net.w2t = w2t.data();
  std::vector<float> x(size_t{N} * S * S * kChannels), out(x.size()), grad(x.size());
  for (auto& v : x) v = u(rng);
  for (auto& v : grad) v = u(rng);
  const Grid grid{int64_t{S} * S * kChannels, int64_t{S} * kChannels};
  std::vector<View> views;
  for (int n = 0; n < N; ++n)
    views.push_back({x.data() + n * grid.sample_stride, 0, 0, S, S, grid.row_stride});
  std::vector<Row> rows;
  for (int n = 0; n < N; ++n)
    for (int i = 20; i < 52; ++i)
      for (int j = 20; j < 52; ++j)
        if (rng() % 2 != 0)
          rows.push_back({n, static_cast<int16_t>(i), static_cast<int16_t>(j), 1.f});
  std::vector<float> scratch(static_cast<size_t>(scratch_floats(net)));
  std::vector<float> dy(rows.size() * K), gw1(K * H), gb1(H), gw2(kChannels * H);
  using Clock = std::chrono::steady_clock;
  const auto per_cell = [&](Clock::duration d) {
    return std::chrono::duration<double, std::nano>(d).count() / static_cast<double>(rows.size());
  };
  std::printf("%zu cells, %d repetitions, ns per cell (best)\n", rows.size(), reps);
  for (const auto& k : supported_kernels()) {
    double forward = 1e30, backward = 1e30;
    for (int rep = 0; rep < reps; ++rep) {
      const auto t0 = Clock::now();
      for (size_t r = 0; r < rows.size(); r += kTileRows)
        k.forward_tile(net, rows.data() + r,
                       static_cast<int>(std::min<size_t>(kTileRows, rows.size() - r)), views.data(),
                       x.data(), out.data(), grid, scratch.data());
      const auto t1 = Clock::now();
      for (size_t r = 0; r < rows.size(); r += kTileRows)
        k.backward_tile(net, rows.data() + r,
                        static_cast<int>(std::min<size_t>(kTileRows, rows.size() - r)),
                        views.data(), grad.data(), grid, dy.data() + r * K, gw1.data(), gb1.data(),
                        gw2.data(), scratch.data());
      const auto t2 = Clock::now();
      forward = std::min(forward, per_cell(t1 - t0));
      backward = std::min(backward, per_cell(t2 - t1));
    }
    std::printf("%-8s forward %7.1f  backward %7.1f\n", k.target.c_str(), forward, backward);
  }
  return 0;
}
