// The fast CPU step: masks and bounding boxes per sample, tiles of firing cells through the
// vectorised kernels (fast_kernels.h), and a custom autograd function that keeps only the
// cropped input state and masks of each step.
#include "nca/fast_step.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "fast_kernels.h"
#include "nca/errors.h"
#include "nca/torch_compat.h"

namespace nca {
namespace {

using fast::kChannels;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Why `target` cannot be chosen, in words that name the choices.
std::string target_refusal(const std::string& target) {
  std::string supported;
  for (const auto& k : fast::supported_kernels())
    supported += (supported.empty() ? "" : ", ") + k.target;
  const auto compiled = fast::compiled_targets();
  const bool known = std::find(compiled.begin(), compiled.end(), target) != compiled.end();
  return (known ? "this CPU does not run the '" + target + "' kernels"
                : "no fast-step kernels are named '" + target + "'") +
         "; choose one of " + supported;
}

// The kernels use_fast_step_target() chose, if any.
std::atomic<const fast::Kernels*> chosen_kernels{nullptr};

// The kernels the fast step runs: use_fast_step_target's choice, else NCA_FAST_KERNELS's, else
// the best this CPU runs.
const fast::Kernels& active_kernels() {
  if (const fast::Kernels* k = chosen_kernels.load()) return *k;
  static const fast::Kernels& from_environment = []() -> const fast::Kernels& {
    const char* env = std::getenv("NCA_FAST_KERNELS");
    if (env == nullptr || *env == 0) return fast::supported_kernels().front();
    if (const fast::Kernels* k = fast::find_kernels(env)) return *k;
    throw UsageError("NCA_FAST_KERNELS=" + std::string(env) + ": " + target_refusal(env));
  }();
  return from_environment;
}

// A half-open rectangle of grid cells.
struct Box {
  int r0 = 0, r1 = 0, c0 = 0, c1 = 0;
  int rows() const { return r1 - r0; }
  int cols() const { return c1 - c0; }
  int64_t area() const { return int64_t{rows()} * cols(); }
  bool empty() const { return r1 <= r0 || c1 <= c0; }
};

// The update network's weights in the kernels' layouts (fast::Net points into this).
struct PackedNet {
  std::vector<float> w1, w1t, b1, w2, w2t, b2;
  fast::Net net;
  int hidden = 0;  // unpadded
};

// conv2_b: the last layer's bias; none when undefined or empty.
PackedNet pack(const at::Tensor& conv1_w, const at::Tensor& conv1_b, const at::Tensor& conv2_w,
               const at::Tensor& conv2_b, int filters, double angle) {
  PackedNet p;
  const int hidden = static_cast<int>(conv1_w.size(0));
  const int inputs = kChannels * filters;
  const int hp = (hidden + fast::kHiddenBlock - 1) / fast::kHiddenBlock * fast::kHiddenBlock;
  p.hidden = hidden;
  p.w1.assign(size_t(inputs) * hp, 0.f);
  p.w1t.assign(size_t(hp) * inputs, 0.f);
  p.b1.assign(hp, 0.f);
  p.w2.assign(size_t(kChannels) * hp, 0.f);
  p.w2t.assign(size_t(hp) * kChannels, 0.f);
  auto w1 = conv1_w.detach().reshape({hidden, inputs}).contiguous();
  auto b1 = conv1_b.detach().contiguous();
  auto w2 = conv2_w.detach().reshape({kChannels, hidden}).contiguous();
  const float* a = w1.data_ptr<float>();
  for (int j = 0; j < hidden; ++j)
    for (int c = 0; c < kChannels; ++c)
      for (int f = 0; f < filters; ++f) {
        // LibTorch's input c * filters + f is the kernels' f * 16 + c.
        const float v = a[j * inputs + c * filters + f];
        const int k = f * kChannels + c;
        p.w1[size_t(k) * hp + j] = v;
        p.w1t[size_t(j) * inputs + k] = v;
      }
  std::copy_n(b1.data_ptr<float>(), hidden, p.b1.begin());
  const float* b = w2.data_ptr<float>();
  for (int o = 0; o < kChannels; ++o)
    for (int j = 0; j < hidden; ++j) {
      p.w2[size_t(o) * hp + j] = b[o * hidden + j];
      p.w2t[size_t(j) * kChannels + o] = b[o * hidden + j];
    }
  if (conv2_b.defined() && conv2_b.numel() > 0) {
    const auto b2 = conv2_b.detach().contiguous();
    p.b2.assign(b2.data_ptr<float>(), b2.data_ptr<float>() + kChannels);
  }
  auto& n = p.net;
  n.filters = filters;
  n.inputs = inputs;
  n.hidden = hp;
  n.rotated = angle != 0.0;
  n.cos_a = static_cast<float>(std::cos(angle));
  n.sin_a = static_cast<float>(std::sin(angle));
  n.w1 = p.w1.data();
  n.w1t = p.w1t.data();
  n.b1 = p.b1.data();
  n.w2 = p.w2.data();
  n.w2t = p.w2t.data();
  n.b2 = p.b2.empty() ? nullptr : p.b2.data();
  return p;
}

// Per-thread scratch and gradient accumulators.
struct ThreadBuffers {
  std::vector<float> scratch, gw1, gb1, gw2;
};

// Runs fn(index, thread) for index in [0, count) on LibTorch's threads, handing out indices one
// at a time: on a shared machine a thread that is descheduled then holds up one tile, not a
// fixed half of the work.
template <typename Fn>
void parallel_dynamic(int64_t count, const Fn& fn) {
  const int64_t threads = std::min<int64_t>(at::get_num_threads(), count);
  if (threads <= 1) {
    for (int64_t i = 0; i < count; ++i) fn(i, 0);
    return;
  }
  std::atomic<int64_t> next{0};
  at::parallel_for(0, threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t)
      for (int64_t i = next++; i < count; i = next++) fn(i, static_cast<int>(t));
  });
}

template <typename Fn>
void serial_for(int64_t count, const Fn& fn) {
  for (int64_t i = 0; i < count; ++i) fn(i, 0);
}

// A channels-last N x 16 x H x W tensor of zeros, filled without a parallel region.
at::Tensor zeros_channels_last(int64_t n, int64_t h, int64_t w) {
  auto t = torch::empty({n, kChannels, h, w}, at::MemoryFormat::ChannelsLast);
  std::memset(t.data_ptr<float>(), 0, sizeof(float) * t.numel());
  return t;
}

// Runs fn(tile_first_row, tile_row_count, thread_buffers) over the rows in tiles, in parallel.
template <typename Fn>
void for_each_tile(int64_t rows, std::vector<ThreadBuffers>& buffers, const Fn& fn) {
  const int64_t tiles = (rows + fast::kTileRows - 1) / fast::kTileRows;
  parallel_dynamic(tiles, [&](int64_t t, int thread) {
    const int64_t r = t * fast::kTileRows;
    fn(r, static_cast<int>(std::min<int64_t>(fast::kTileRows, rows - r)), buffers[thread]);
  });
}

constexpr uint8_t kPre = 1;  // alive before the step: maxpool(alpha) > threshold
constexpr uint8_t kReg = 2;  // within one cell of kPre: dx is needed here

// What one sample needs during the forward pass.
struct SamplePlan {
  Box box;                     // alive cells grown by two, clipped to the grid
  std::vector<uint8_t> flags;  // box-sized kPre | kReg
  std::vector<fast::Row> rows;
};

// Saved for the backward pass: per sample, the input state in its box, the keep mask
// (pre & post) and the fire values there.
struct Saved {
  at::Tensor boxes;    // int32 N x 4: r0, r1, c0, c1
  at::Tensor offsets;  // int64 N + 1: start of each sample's cells
  at::Tensor state;    // float cells x 16
  at::Tensor fire;     // float cells
  at::Tensor keep;     // uint8 cells
};

struct ForwardResult {
  at::Tensor out;
  Saved saved;
};

ForwardResult forward_impl(const at::Tensor& x_in, const at::Tensor& fire_in, const PackedNet& p,
                           float threshold, bool save) {
  const auto& k = active_kernels();
  const int64_t N = x_in.size(0);
  const int H = static_cast<int>(x_in.size(2)), W = static_cast<int>(x_in.size(3));
  auto x = x_in.contiguous(at::MemoryFormat::ChannelsLast);
  auto fire = fire_in.to(torch::kFloat).expand({N, 1, H, W}).contiguous();
  const float* X = x.data_ptr<float>();
  const float* FI = fire.data_ptr<float>();
  auto out = zeros_channels_last(N, H, W);
  float* O = out.data_ptr<float>();
  const fast::Grid grid{int64_t{H} * W * kChannels, int64_t{W} * kChannels};

  std::vector<SamplePlan> plans(N);
  // The per-sample passes are cheap and stay serial: on a shared machine every parallel region
  // can cost a wait for a descheduled thread.
  std::vector<std::vector<uint8_t>> alive_buffers(1);
  serial_for(N, [&](int64_t n, int thread) {
    auto& alive = alive_buffers[thread];
    alive.resize(size_t(H) * W);
    {
      const float* xs = X + n * grid.sample_stride;
      int r0 = H, r1 = -1, c0 = W, c1 = -1;
      for (int i = 0; i < H; ++i)
        for (int j = 0; j < W; ++j) {
          const bool a = xs[(int64_t{i} * W + j) * kChannels + 3] > threshold;
          alive[i * W + j] = a;
          if (a) {
            r0 = std::min(r0, i), r1 = std::max(r1, i);
            c0 = std::min(c0, j), c1 = std::max(c1, j);
          }
        }
      auto& plan = plans[n];
      if (r1 < 0) return;  // nothing alive: the sample becomes all zeros
      Box& b = plan.box;
      b = {std::max(r0 - 2, 0), std::min(r1 + 3, H), std::max(c0 - 2, 0), std::min(c1 + 3, W)};
      const int bc = b.cols();
      plan.flags.assign(b.area(), 0);
      auto any3x3 = [&](auto&& test, int i, int j, int ilo, int ihi, int jlo, int jhi) {
        for (int a = std::max(i - 1, ilo); a <= std::min(i + 1, ihi - 1); ++a)
          for (int c = std::max(j - 1, jlo); c <= std::min(j + 1, jhi - 1); ++c)
            if (test(a, c)) return true;
        return false;
      };
      for (int i = b.r0; i < b.r1; ++i)
        for (int j = b.c0; j < b.c1; ++j)
          if (any3x3([&](int a, int c) { return alive[a * W + c] != 0; }, i, j, 0, H, 0, W))
            plan.flags[(i - b.r0) * bc + (j - b.c0)] = kPre;
      const float* fs = FI + n * int64_t{H} * W;
      for (int i = b.r0; i < b.r1; ++i)
        for (int j = b.c0; j < b.c1; ++j) {
          const bool reg = any3x3(
              [&](int a, int c) { return (plan.flags[(a - b.r0) * bc + (c - b.c0)] & kPre) != 0; },
              i, j, b.r0, b.r1, b.c0, b.c1);
          if (!reg) continue;
          plan.flags[(i - b.r0) * bc + (j - b.c0)] |= kReg;
          const float f = fs[i * W + j];
          if (f != 0.f)
            plan.rows.push_back(
                {static_cast<int32_t>(n), static_cast<int16_t>(i), static_cast<int16_t>(j), f});
        }
      // Cells that do not fire keep their state: start the output as a copy of the box.
      for (int i = b.r0; i < b.r1; ++i)
        std::copy_n(xs + (int64_t{i} * W + b.c0) * kChannels, int64_t{bc} * kChannels,
                    O + n * grid.sample_stride + (int64_t{i} * W + b.c0) * kChannels);
    }
  });

  std::vector<fast::Row> rows;
  for (const auto& plan : plans) rows.insert(rows.end(), plan.rows.begin(), plan.rows.end());
  std::vector<fast::View> views(N);
  for (int64_t n = 0; n < N; ++n)
    views[n] = {X + n * grid.sample_stride, 0, 0, H, W, grid.row_stride};

  std::vector<ThreadBuffers> buffers(at::get_num_threads());
  for (auto& b : buffers) b.scratch.resize(fast::scratch_floats(p.net));
  for_each_tile(
      static_cast<int64_t>(rows.size()), buffers, [&](int64_t r, int count, ThreadBuffers& b) {
        k.forward_tile(p.net, rows.data() + r, count, views.data(), X, O, grid, b.scratch.data());
      });

  ForwardResult result;
  std::vector<int64_t> offsets(N + 1, 0);
  for (int64_t n = 0; n < N; ++n) offsets[n + 1] = offsets[n] + plans[n].box.area();
  Saved& s = result.saved;
  if (save) {
    s.boxes = torch::empty({N, 4}, torch::kInt);
    s.offsets = torch::tensor(offsets, torch::kLong);
    s.state = torch::empty({offsets[N], kChannels});
    s.fire = torch::empty({offsets[N]});
    s.keep = torch::empty({offsets[N]}, torch::kUInt8);
  }
  std::vector<std::vector<uint8_t>> after_buffers(1);
  serial_for(N, [&](int64_t n, int thread) {
    auto& alive_after = after_buffers[thread];
    {
      const auto& plan = plans[n];
      const Box& b = plan.box;
      float* os = O + n * grid.sample_stride;
      if (save) {
        int32_t* bx = s.boxes.data_ptr<int32_t>() + 4 * n;
        bx[0] = b.r0, bx[1] = b.r1, bx[2] = b.c0, bx[3] = b.c1;
      }
      if (b.empty()) return;
      const int bc = b.cols();
      alive_after.assign(b.area(), 0);
      for (int i = b.r0; i < b.r1; ++i)
        for (int j = b.c0; j < b.c1; ++j)
          alive_after[(i - b.r0) * bc + (j - b.c0)] =
              os[(int64_t{i} * W + j) * kChannels + 3] > threshold;
      // The post mask is needed where pre holds; its 3x3 neighbourhood lies inside the box.
      uint8_t* keep = save ? s.keep.data_ptr<uint8_t>() + offsets[n] : nullptr;
      for (int i = b.r0; i < b.r1; ++i)
        for (int j = b.c0; j < b.c1; ++j) {
          const int64_t cell = (i - b.r0) * bc + (j - b.c0);
          bool kept = false;
          if (plan.flags[cell] & kPre) {
            for (int a = std::max(i - 1, b.r0); a <= std::min(i + 1, b.r1 - 1) && !kept; ++a)
              for (int c = std::max(j - 1, b.c0); c <= std::min(j + 1, b.c1 - 1); ++c)
                if (alive_after[(a - b.r0) * bc + (c - b.c0)]) {
                  kept = true;
                  break;
                }
          }
          if (!kept) std::fill_n(os + (int64_t{i} * W + j) * kChannels, kChannels, 0.f);
          if (keep) keep[cell] = kept;
        }
      if (!save) return;
      float* st = s.state.data_ptr<float>() + offsets[n] * kChannels;
      float* fi = s.fire.data_ptr<float>() + offsets[n];
      const float* xs = X + n * grid.sample_stride;
      const float* fs = FI + n * int64_t{H} * W;
      for (int i = b.r0; i < b.r1; ++i) {
        std::copy_n(xs + (int64_t{i} * W + b.c0) * kChannels, int64_t{bc} * kChannels,
                    st + int64_t{i - b.r0} * bc * kChannels);
        std::copy_n(fs + int64_t{i} * W + b.c0, bc, fi + int64_t{i - b.r0} * bc);
      }
    }
  });
  result.out = out;
  return result;
}

struct BackwardResult {
  at::Tensor grad_x, grad_w1, grad_b1, grad_w2, grad_b2;  // grad_b2: when the net has a bias
};

// dL/db2: the sum of dL/d(dx) = dL/dout * fire over the rows (the kept cells that fired).
at::Tensor last_bias_gradient(const std::vector<fast::Row>& rows, const float* grad,
                              const fast::Grid& grid) {
  std::vector<double> sum(kChannels, 0.0);
  for (const auto& r : rows) {
    const float* g = grid.at(grad, r);
    for (int c = 0; c < kChannels; ++c)
      sum[c] += static_cast<double>(g[c]) * static_cast<double>(r.fire);
  }
  auto out = torch::empty({kChannels});
  float* o = out.data_ptr<float>();
  for (int c = 0; c < kChannels; ++c) o[c] = static_cast<float>(sum[c]);
  return out;
}

BackwardResult backward_impl(const Saved& s, const at::Tensor& grad_out, const PackedNet& p,
                             const at::IntArrayRef shape, bool need_x) {
  const auto& k = active_kernels();
  const int64_t N = shape[0];
  const int H = static_cast<int>(shape[2]), W = static_cast<int>(shape[3]);
  auto g = grad_out.contiguous(at::MemoryFormat::ChannelsLast);
  const float* G = g.data_ptr<float>();
  const fast::Grid grid{int64_t{H} * W * kChannels, int64_t{W} * kChannels};
  const int32_t* bx = s.boxes.data_ptr<int32_t>();
  const int64_t* off = s.offsets.data_ptr<int64_t>();
  const float* state = s.state.data_ptr<float>();
  const float* fire = s.fire.data_ptr<float>();
  const uint8_t* keep = s.keep.data_ptr<uint8_t>();
  auto box_of = [&](int64_t n) {
    return Box{bx[4 * n], bx[4 * n + 1], bx[4 * n + 2], bx[4 * n + 3]};
  };

  // Rows: kept cells that fired (elsewhere dL/d(dx) is zero). Their neighbourhoods lie inside
  // the saved box, and cells outside it but inside the grid never feed them.
  std::vector<fast::Row> rows;
  std::vector<fast::View> views(N);
  std::vector<int64_t> first_row(N + 1, 0);
  for (int64_t n = 0; n < N; ++n) {
    const Box b = box_of(n);
    first_row[n] = static_cast<int64_t>(rows.size());
    views[n] = {state + off[n] * kChannels,   b.r0, b.c0, b.rows(), b.cols(),
                int64_t{b.cols()} * kChannels};
    for (int i = b.r0; i < b.r1; ++i)
      for (int j = b.c0; j < b.c1; ++j) {
        const int64_t cell = off[n] + int64_t{i - b.r0} * b.cols() + (j - b.c0);
        if (keep[cell] && fire[cell] != 0.f)
          rows.push_back({static_cast<int32_t>(n), static_cast<int16_t>(i), static_cast<int16_t>(j),
                          fire[cell]});
      }
  }
  first_row[N] = static_cast<int64_t>(rows.size());

  const auto& net = p.net;
  std::vector<ThreadBuffers> buffers(at::get_num_threads());
  for (auto& b : buffers) {
    b.scratch.resize(fast::scratch_floats(net));
    b.gw1.assign(size_t(net.inputs) * net.hidden, 0.f);
    b.gb1.assign(net.hidden, 0.f);
    b.gw2.assign(size_t(kChannels) * net.hidden, 0.f);
  }
  std::vector<float> dy(need_x ? rows.size() * net.inputs : 0);
  for_each_tile(static_cast<int64_t>(rows.size()), buffers,
                [&](int64_t r, int count, ThreadBuffers& b) {
                  k.backward_tile(net, rows.data() + r, count, views.data(), G, grid,
                                  need_x ? dy.data() + r * net.inputs : nullptr, b.gw1.data(),
                                  b.gb1.data(), b.gw2.data(), b.scratch.data());
                });

  BackwardResult result;
  if (need_x) {
    result.grad_x = zeros_channels_last(N, H, W);
    float* GX = result.grad_x.data_ptr<float>();
    std::vector<std::vector<int32_t>> index_buffers(at::get_num_threads());
    parallel_dynamic(N, [&](int64_t n, int thread) {
      auto& index = index_buffers[thread];
      {
        const Box b = box_of(n);
        if (b.empty()) return;
        const int ic = b.cols() + 2;
        index.assign(size_t(b.rows() + 2) * ic, -1);
        for (int64_t r = first_row[n]; r < first_row[n + 1]; ++r)
          index[(rows[r].i - b.r0 + 1) * ic + (rows[r].j - b.c0 + 1)] = static_cast<int32_t>(r);
        const int64_t corner = n * grid.sample_stride + (int64_t{b.r0} * W + b.c0) * kChannels;
        k.perception_backward(net, index.data(), dy.data(), keep + off[n], G + corner,
                              grid.row_stride, b.rows(), b.cols(), GX + corner, grid.row_stride);
      }
    });
  }

  // Sum the threads' accumulators and return to LibTorch's layouts.
  const int hidden = p.hidden, hp = net.hidden, filters = net.filters, inputs = net.inputs;
  for (size_t t = 1; t < buffers.size(); ++t) {
    for (size_t i = 0; i < buffers[0].gw1.size(); ++i) buffers[0].gw1[i] += buffers[t].gw1[i];
    for (size_t i = 0; i < buffers[0].gb1.size(); ++i) buffers[0].gb1[i] += buffers[t].gb1[i];
    for (size_t i = 0; i < buffers[0].gw2.size(); ++i) buffers[0].gw2[i] += buffers[t].gw2[i];
  }
  result.grad_w1 = torch::empty({hidden, inputs, 1, 1});
  result.grad_b1 = torch::empty({hidden});
  result.grad_w2 = torch::empty({kChannels, hidden, 1, 1});
  float* a = result.grad_w1.data_ptr<float>();
  for (int j = 0; j < hidden; ++j)
    for (int c = 0; c < kChannels; ++c)
      for (int f = 0; f < filters; ++f)
        a[j * inputs + c * filters + f] = buffers[0].gw1[size_t(f * kChannels + c) * hp + j];
  std::copy_n(buffers[0].gb1.begin(), hidden, result.grad_b1.data_ptr<float>());
  float* b = result.grad_w2.data_ptr<float>();
  for (int o = 0; o < kChannels; ++o)
    for (int j = 0; j < hidden; ++j) b[o * hidden + j] = buffers[0].gw2[size_t(o) * hp + j];
  if (net.b2 != nullptr) result.grad_b2 = last_bias_gradient(rows, G, grid);
  return result;
}

struct FastStepFunction : public torch::autograd::Function<FastStepFunction> {
  // b2: the last layer's bias, empty when the model has none (LibTorch's autograd functions take
  // no undefined tensors).
  static at::Tensor forward(AutogradContext* ctx, at::Tensor x, at::Tensor w1, at::Tensor b1,
                            at::Tensor w2, at::Tensor b2, at::Tensor fire, int64_t filters,
                            double angle, double threshold) {
    const auto packed = pack(w1, b1, w2, b2, static_cast<int>(filters), angle);
    auto r = forward_impl(x, fire, packed, static_cast<float>(threshold), /*save=*/true);
    ctx->save_for_backward({w1, b1, w2, b2});
    ctx->saved_data["boxes"] = r.saved.boxes;
    ctx->saved_data["offsets"] = r.saved.offsets;
    ctx->saved_data["state"] = r.saved.state;
    ctx->saved_data["fire"] = r.saved.fire;
    ctx->saved_data["keep"] = r.saved.keep;
    ctx->saved_data["shape"] = x.sizes().vec();
    ctx->saved_data["filters"] = filters;
    ctx->saved_data["angle"] = angle;
    return r.out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto w = ctx->get_saved_variables();
    Saved s;
    s.boxes = ctx->saved_data["boxes"].toTensor();
    s.offsets = ctx->saved_data["offsets"].toTensor();
    s.state = ctx->saved_data["state"].toTensor();
    s.fire = ctx->saved_data["fire"].toTensor();
    s.keep = ctx->saved_data["keep"].toTensor();
    const auto shape = ctx->saved_data["shape"].toIntVector();
    const auto packed =
        pack(w[0], w[1], w[2], w[3], static_cast<int>(ctx->saved_data["filters"].toInt()),
             ctx->saved_data["angle"].toDouble());
    at::Tensor g = grads[0].defined() ? grads[0] : torch::zeros(shape);
    auto r = backward_impl(s, g, packed, shape, ctx->needs_input_grad(0));
    return {r.grad_x,     r.grad_w1,    r.grad_b1,    r.grad_w2,   r.grad_b2,
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

std::string fast_step_unsupported(const ModelConfig& cfg) {
  if (cfg.channels != kChannels)
    return "needs 16 state channels, the model has " + std::to_string(cfg.channels);
  // The kernels' filters: identity, Sobel x and y, and the Laplacian for Full (filters() of 4).
  // A perception they do not compute must be added here, and -Wswitch says so.
  switch (cfg.perception) {
    case Perception::Full:
    case Perception::Distill:
      return {};
  }
  return "has no kernels for perception " + to_string(cfg.perception);
}

std::vector<std::string> fast_step_targets() {
  std::vector<std::string> names;
  for (const auto& k : fast::supported_kernels()) names.push_back(k.target);
  return names;
}

std::string fast_step_target() { return active_kernels().target; }

void use_fast_step_target(const std::string& target) {
  const fast::Kernels* k = fast::find_kernels(target);
  if (k == nullptr) throw UsageError(target_refusal(target));
  chosen_kernels.store(k);
}

at::Tensor fast_step(NCAModelImpl& model, const at::Tensor& x, const at::Tensor& fire,
                     double angle) {
  const auto& cfg = model.config();
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat || x.dim() != 4 ||
      x.size(1) != kChannels || !fast_step_unsupported(cfg).empty())
    throw std::invalid_argument("fast_step: needs a CPU float32 N x 16 x H x W state, got " +
                                c10::str(x.sizes()) + " " + c10::str(x.scalar_type()) + " on " +
                                x.device().str());
  const Weights weights = model.weights();
  const auto &w1 = weights.w1, &b1 = weights.b1, &w2 = weights.w2, &b2 = weights.b2;
  // The kernels read the weights' memory directly: a model moved to a GPU must not reach them.
  for (const at::Tensor* w : {&w1, &b1, &w2, &b2, &fire})
    if (w->defined() && !w->device().is_cpu())
      throw std::invalid_argument(
          "fast_step: the model's weights and the fire mask must be on "
          "the CPU, found one on " +
          w->device().str());
  const bool grad = torch::GradMode::is_enabled() &&
                    (x.requires_grad() || w1.requires_grad() || b1.requires_grad() ||
                     w2.requires_grad() || (b2.defined() && b2.requires_grad()));
  if (!grad) {
    const auto packed = pack(w1, b1, w2, b2, cfg.filters(), angle);
    return forward_impl(x, fire, packed, static_cast<float>(cfg.alive_threshold), false).out;
  }
  const at::Tensor bias = b2.defined() ? b2 : torch::empty({0});
  return apply_autograd_function<FastStepFunction>(
      x, w1, b1, w2, bias, fire, int64_t{cfg.filters()}, angle, cfg.alive_threshold);
}

at::Tensor fast_step(NCAModelImpl& model, const at::Tensor& x, at::Generator& gen, double angle) {
  auto fire = fire_mask(x.size(0), x.size(2), x.size(3), model.config().fire_rate, gen, x.device());
  return fast_step(model, x, fire, angle);
}

}  // namespace nca
