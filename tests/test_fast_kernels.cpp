// The fast step's tile kernels on their own, without LibTorch: every Highway target this CPU
// runs against a plain double-precision implementation of the same formulas, written here from
// the definitions (the perception filters, the two 1x1 layers and their gradients). Built as
// nca_kernel_tests, which also runs under emulation for other architectures (scripts/aarch64.sh).
// The LibTorch step is the oracle of the whole fast step in test_fast_step.cpp.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "catch.h"
#include "fast_kernels.h"

using nca::fast::Grid;
using nca::fast::kChannels;
using nca::fast::Kernels;
using nca::fast::kTileRows;
using nca::fast::Net;
using nca::fast::Row;
using nca::fast::View;

namespace {

constexpr int kC = kChannels;

std::vector<float> uniform(size_t n, float scale, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// A network in the kernels' layouts: `hidden` real units padded with zero ones.
struct TestNet {
  std::vector<float> w1, w1t, b1, w2, w2t;
  Net net;
  TestNet(int filters, int hidden, double angle, std::mt19937& rng) {
    const int inputs = kC * filters;
    const int hp =
        (hidden + nca::fast::kHiddenBlock - 1) / nca::fast::kHiddenBlock * nca::fast::kHiddenBlock;
    w1.assign(size_t(inputs) * hp, 0.f);
    w1t.assign(size_t(hp) * inputs, 0.f);
    b1.assign(hp, 0.f);
    w2.assign(size_t(kC) * hp, 0.f);
    w2t.assign(size_t(hp) * kC, 0.f);
    const auto a = uniform(size_t(inputs) * hidden, 0.3f, rng);
    const auto b = uniform(size_t(hidden), 0.3f, rng);
    const auto c = uniform(size_t(kC) * hidden, 0.2f, rng);
    for (int k = 0; k < inputs; ++k)
      for (int j = 0; j < hidden; ++j) {
        w1[size_t(k) * hp + j] = a[size_t(k) * hidden + j];
        w1t[size_t(j) * inputs + k] = a[size_t(k) * hidden + j];
      }
    std::copy(b.begin(), b.end(), b1.begin());
    for (int o = 0; o < kC; ++o)
      for (int j = 0; j < hidden; ++j) {
        w2[size_t(o) * hp + j] = c[size_t(o) * hidden + j];
        w2t[size_t(j) * kC + o] = c[size_t(o) * hidden + j];
      }
    net.filters = filters;
    net.inputs = inputs;
    net.hidden = hp;
    net.rotated = angle != 0.0;
    net.cos_a = static_cast<float>(std::cos(angle));
    net.sin_a = static_cast<float>(std::sin(angle));
    net.w1 = w1.data();
    net.w1t = w1t.data();
    net.b1 = b1.data();
    net.w2 = w2.data();
    net.w2t = w2t.data();
  }
};

// The filters' weights at (a, b) of the 3x3 window, as docs/design.md §1 defines them.
double filter(int f, int a, int b) {
  switch (f) {
    case 0:
      return a == 1 && b == 1 ? 1.0 : 0.0;
    case 1:
      return (b - 1) * (a == 1 ? 2.0 : 1.0) / 8.0;
    case 2:
      return (a - 1) * (b == 1 ? 2.0 : 1.0) / 8.0;
    default:
      return a == 1 && b == 1 ? -0.5 : (a == 1) != (b == 1) ? 0.125 : 0.0;
  }
}

// A batch of samples, channels-last, with views over the whole grid.
struct TestGrid {
  int n, h, w;
  std::vector<float> x;
  std::vector<View> views;
  Grid grid;
  TestGrid(int samples, int rows, int cols, std::mt19937& rng)
      : n(samples), h(rows), w(cols), x(uniform(size_t(samples) * rows * cols * kC, 1.f, rng)) {
    grid = {int64_t{h} * w * kC, int64_t{w} * kC};
    for (int s = 0; s < n; ++s)
      views.push_back({x.data() + s * grid.sample_stride, 0, 0, h, w, grid.row_stride});
  }
  double at(int s, int i, int j, int c) const {
    if (i < 0 || i >= h || j < 0 || j >= w) return 0.0;
    return x[size_t(((int64_t{s} * h + i) * w + j) * kC + c)];
  }
};

// Perception of one cell, filter-major, the sobel pair rotated.
std::vector<double> perceive(const TestNet& t, const TestGrid& g, const Row& r) {
  const int F = t.net.filters;
  std::vector<double> y(size_t(F) * kC, 0.0);
  for (int f = 0; f < F; ++f)
    for (int c = 0; c < kC; ++c)
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b)
          y[size_t(f * kC + c)] += filter(f, a, b) * g.at(r.n, r.i + a - 1, r.j + b - 1, c);
  const double ca = t.net.cos_a, sa = t.net.sin_a;
  if (t.net.rotated)
    for (int c = 0; c < kC; ++c) {
      const double sx = y[size_t(kC + c)], sy = y[size_t(2 * kC + c)];
      y[size_t(kC + c)] = sx * ca - sy * sa;
      y[size_t(2 * kC + c)] = sx * sa + sy * ca;
    }
  return y;
}

// z = y W1 + b1 (before the relu).
std::vector<double> hidden_sums(const TestNet& t, const std::vector<double>& y) {
  const int H = t.net.hidden, K = t.net.inputs;
  std::vector<double> z(static_cast<size_t>(H));
  for (int j = 0; j < H; ++j) {
    z[size_t(j)] = t.b1[size_t(j)];
    for (int k = 0; k < K; ++k) z[size_t(j)] += y[size_t(k)] * double(t.w1[size_t(k) * H + j]);
  }
  return z;
}

// Rows: `count` distinct cells of the grid, border cells among them, random fire values.
std::vector<Row> pick_rows(const TestGrid& g, int count, std::mt19937& rng) {
  std::vector<Row> rows;
  std::set<std::tuple<int, int, int>> used;
  std::uniform_int_distribution<int> s(0, g.n - 1), i(0, g.h - 1), j(0, g.w - 1);
  std::uniform_real_distribution<float> fire(0.25f, 1.0f);
  rows.push_back({0, 0, 0, 1.0f});  // a corner
  used.insert({0, 0, 0});
  while (static_cast<int>(rows.size()) < count) {
    const int a = s(rng), b = i(rng), c = j(rng);
    if (!used.insert({a, b, c}).second) continue;
    rows.push_back({a, static_cast<int16_t>(b), static_cast<int16_t>(c), fire(rng)});
  }
  return rows;
}

// |got - want| within 1e-5 of the scale of the values compared.
void check_close(const std::vector<float>& got, const std::vector<double>& want, const char* what) {
  REQUIRE(got.size() == want.size());
  double scale = 1.0, worst = 0.0;
  for (double v : want) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
  INFO(what << ": largest |difference| " << worst << " at a scale of " << scale);
  CHECK(worst <= 1e-5 * scale);
}

struct Shape {
  int filters, hidden;
  double angle;
  int count;
};

const Shape kShapes[] = {{4, 128, 0.0, 32}, {4, 128, 0.0, 13}, {4, 128, 0.7, 32},
                         {3, 40, 0.0, 32},  {3, 40, -1.1, 7},  {4, 96, 0.0, 1}};

}  // namespace

TEST_CASE("fast kernels: every target this CPU runs is listed once, best first, by name") {
  const auto& all = nca::fast::supported_kernels();
  REQUIRE(!all.empty());
  std::string list;
  for (const auto& k : all) list += (list.empty() ? "" : ",") + k.target;
  WARN("targets this CPU runs, best first: " << list);  // read by scripts/aarch64.sh
  std::set<std::string> names;
  for (const auto& k : all) {
    CHECK(!k.target.empty());
    CHECK(std::none_of(k.target.begin(), k.target.end(), [](char c) { return std::isupper(c); }));
    CHECK(names.insert(k.target).second);
    CHECK(nca::fast::find_kernels(k.target) == &k);
    CHECK(k.forward_tile != nullptr);
    CHECK(k.backward_tile != nullptr);
    CHECK(k.perception_backward != nullptr);
  }
  // The fallback is always there, and last.
  CHECK((all.back().target == "scalar" || all.back().target == "emu128"));
  for (size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].bit < all[i].bit);
  CHECK(nca::fast::find_kernels("avx9") == nullptr);
  CHECK(nca::fast::find_kernels("") == nullptr);
  const auto compiled = nca::fast::compiled_targets();
  for (const auto& k : all)
    CHECK(std::find(compiled.begin(), compiled.end(), k.target) != compiled.end());
}

TEST_CASE("fast kernels: each target's forward tile against a plain implementation") {
  for (const Kernels& k : nca::fast::supported_kernels()) {
    for (const Shape& shape : kShapes) {
      INFO("target " << k.target << ", filters " << shape.filters << ", hidden " << shape.hidden
                     << ", angle " << shape.angle << ", rows " << shape.count);
      std::mt19937 rng(42);
      const TestNet t(shape.filters, shape.hidden, shape.angle, rng);
      const TestGrid g(2, 9, 7, rng);
      const auto rows = pick_rows(g, shape.count, rng);
      std::vector<float> out(g.x.size(), -7.f);
      std::vector<float> scratch(size_t(nca::fast::scratch_floats(t.net)));
      k.forward_tile(t.net, rows.data(), shape.count, g.views.data(), g.x.data(), out.data(),
                     g.grid, scratch.data());
      std::vector<float> got;
      std::vector<double> want;
      for (const Row& r : rows) {
        const auto y = perceive(t, g, r);
        auto z = hidden_sums(t, y);
        for (auto& v : z) v = std::max(v, 0.0);
        for (int o = 0; o < kC; ++o) {
          double dx = 0;
          for (int j = 0; j < t.net.hidden; ++j)
            dx += z[size_t(j)] * double(t.w2t[size_t(j) * kC + o]);
          want.push_back(g.at(r.n, r.i, r.j, o) + double(r.fire) * dx);
          got.push_back(out[size_t(g.grid.at(out.data(), r) - out.data()) + size_t(o)]);
        }
      }
      check_close(got, want, "out");
      // Cells that are not rows are left alone.
      CHECK(std::count(out.begin(), out.end(), -7.f) ==
            static_cast<std::ptrdiff_t>(out.size() - rows.size() * kC));
    }
  }
}

TEST_CASE("fast kernels: each target's backward tile against a plain implementation") {
  for (const Kernels& k : nca::fast::supported_kernels()) {
    for (const Shape& shape : kShapes) {
      INFO("target " << k.target << ", filters " << shape.filters << ", hidden " << shape.hidden
                     << ", angle " << shape.angle << ", rows " << shape.count);
      std::mt19937 rng(43);
      const TestNet t(shape.filters, shape.hidden, shape.angle, rng);
      const TestGrid g(2, 8, 9, rng);
      const auto grad = uniform(g.x.size(), 1.f, rng);
      const auto rows = pick_rows(g, shape.count, rng);
      const int H = t.net.hidden, K = t.net.inputs;
      // Accumulators start from earlier tiles' sums.
      const auto gw1_0 = uniform(size_t(K) * H, 0.5f, rng);
      const auto gb1_0 = uniform(size_t(H), 0.5f, rng);
      const auto gw2_0 = uniform(size_t(kC) * H, 0.5f, rng);
      auto gw1 = gw1_0, gb1 = gb1_0, gw2 = gw2_0;
      std::vector<float> dy(size_t(shape.count) * K, -7.f);
      std::vector<float> scratch(size_t(nca::fast::scratch_floats(t.net)));
      k.backward_tile(t.net, rows.data(), shape.count, g.views.data(), grad.data(), g.grid,
                      dy.data(), gw1.data(), gb1.data(), gw2.data(), scratch.data());
      std::vector<double> w_gw1(gw1_0.begin(), gw1_0.end()), w_gb1(gb1_0.begin(), gb1_0.end()),
          w_gw2(gw2_0.begin(), gw2_0.end()), w_dy;
      for (const Row& r : rows) {
        const auto y = perceive(t, g, r);
        const auto z = hidden_sums(t, y);
        std::vector<double> dd(kC);
        for (int o = 0; o < kC; ++o)
          dd[size_t(o)] =
              r.fire * grad[size_t(g.grid.at(grad.data(), r) - grad.data()) + size_t(o)];
        std::vector<double> dz(size_t(H), 0.0);
        for (int j = 0; j < H; ++j) {
          const double hj = std::max(z[size_t(j)], 0.0);
          for (int o = 0; o < kC; ++o) {
            w_gw2[size_t(o) * H + j] += dd[size_t(o)] * hj;
            if (z[size_t(j)] > 0) dz[size_t(j)] += dd[size_t(o)] * double(t.w2[size_t(o) * H + j]);
          }
          w_gb1[size_t(j)] += dz[size_t(j)];
          for (int kk = 0; kk < K; ++kk) w_gw1[size_t(kk) * H + j] += y[size_t(kk)] * dz[size_t(j)];
        }
        std::vector<double> d(size_t(K), 0.0);
        for (int kk = 0; kk < K; ++kk)
          for (int j = 0; j < H; ++j)
            d[size_t(kk)] += dz[size_t(j)] * double(t.w1t[size_t(j) * K + kk]);
        const double ca = t.net.cos_a, sa = t.net.sin_a;
        if (t.net.rotated)  // back through the rotation: its transpose
          for (int c = 0; c < kC; ++c) {
            const double gx = d[size_t(kC + c)], gy = d[size_t(2 * kC + c)];
            d[size_t(kC + c)] = gx * ca + gy * sa;
            d[size_t(2 * kC + c)] = -gx * sa + gy * ca;
          }
        w_dy.insert(w_dy.end(), d.begin(), d.end());
      }
      check_close(gw1, w_gw1, "gw1");
      check_close(gb1, w_gb1, "gb1");
      check_close(gw2, w_gw2, "gw2");
      check_close(dy, w_dy, "dy");
    }
  }
}

TEST_CASE("fast kernels: each target's perception backward against a plain implementation") {
  for (const Kernels& k : nca::fast::supported_kernels()) {
    for (int filters : {4, 3}) {
      INFO("target " << k.target << ", filters " << filters);
      std::mt19937 rng(44);
      const TestNet t(filters, 64, 0.0, rng);
      const int K = t.net.inputs, rows = 6, cols = 5, icols = cols + 2;
      const int64_t stride = int64_t{cols + 3} * kC;  // wider than the window, as in a grid
      // Some cells of the window and of its margin have rows in dy, the others none.
      std::vector<int32_t> index(size_t(rows + 2) * icols, -1);
      int count = 0;
      std::bernoulli_distribution has_row(0.6);
      for (auto& v : index)
        if (has_row(rng)) v = count++;
      const auto dy = uniform(size_t(count) * K, 1.f, rng);
      std::vector<uint8_t> keep(size_t(rows) * cols);
      for (auto& v : keep) v = has_row(rng) ? 1 : 0;
      const auto direct = uniform(size_t(rows) * size_t(stride), 1.f, rng);
      std::vector<float> out(size_t(rows) * size_t(stride), -7.f);
      k.perception_backward(t.net, index.data(), dy.data(), keep.data(), direct.data(), stride,
                            rows, cols, out.data(), stride);
      std::vector<float> got;
      std::vector<double> want;
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j)
          for (int c = 0; c < kC; ++c) {
            const size_t at = size_t(i * stride + j * kC + c);
            double g = keep[size_t(i * cols + j)] ? double(direct[at]) : 0.0;
            // Cell (i, j) is neighbour (a, b) of the row cell q = (i + 1 - a, j + 1 - b), which
            // read it with weight filter(f, a, b); in the index, q sits one cell further in.
            for (int a = 0; a < 3; ++a)
              for (int b = 0; b < 3; ++b) {
                const int32_t q = index[size_t((i + 2 - a) * icols + (j + 2 - b))];
                if (q < 0) continue;
                for (int f = 0; f < filters; ++f)
                  g += filter(f, a, b) * double(dy[size_t(q) * size_t(K) + size_t(f * kC + c)]);
              }
            want.push_back(g);
            got.push_back(out[at]);
          }
      check_close(got, want, "dL/dx");
    }
  }
}

TEST_CASE("fast kernels: targets that both fuse multiply-adds agree bit for bit") {
  // Every target runs the same operations in the same order, whatever its vector width, so two
  // that both have fused multiply-adds give identical results (and the loss curves do not move
  // with the CPU). The pairs of that kind that a CPU may run both of:
  const std::pair<const char*, const char*> pairs[] = {
      {"avx3", "avx2"}, {"avx3_dl", "avx2"}, {"sve", "neon"}, {"sve2", "neon"}};
  std::mt19937 rng(45);
  const TestNet t(4, 128, 0.3, rng);
  const TestGrid g(1, 8, 8, rng);
  const auto rows = pick_rows(g, kTileRows, rng);
  auto forward = [&](const Kernels& k) {
    std::vector<float> out(g.x.size(), 0.f);
    std::vector<float> scratch(size_t(nca::fast::scratch_floats(t.net)));
    k.forward_tile(t.net, rows.data(), kTileRows, g.views.data(), g.x.data(), out.data(), g.grid,
                   scratch.data());
    return out;
  };
  int compared = 0;
  for (const auto& [a, b] : pairs) {
    const Kernels* ka = nca::fast::find_kernels(a);
    const Kernels* kb = nca::fast::find_kernels(b);
    if (ka == nullptr || kb == nullptr) continue;
    INFO(a << " against " << b);
    CHECK(forward(*ka) == forward(*kb));
    ++compared;
  }
  if (compared == 0) NCA_SKIP("this CPU runs no two targets that both fuse multiply-adds");
}
