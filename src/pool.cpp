// SamplePool: the states that persistent and regenerating training start from.
#include "nca/pool.h"

#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "nca/limits.h"

namespace nca {

SamplePool::SamplePool(int64_t size, const at::Tensor& seed)
    : channels_(seed.size(0)), height_(seed.size(1)), width_(seed.size(2)) {
  entries_.resize(size);
  store(0, seed);
  for (int64_t i = 1; i < size; ++i) entries_[i] = entries_[0];  // crops are never modified
}

void SamplePool::store(int64_t index, const at::Tensor& state) {
  auto s = state.detach().to(torch::kCPU, torch::kFloat);
  auto nonzero = s.ne(0).any(0);  // H x W; NaN counts as nonzero
  auto rows = nonzero.any(1).nonzero();
  auto cols = nonzero.any(0).nonzero();
  Entry e;
  if (rows.numel() > 0) {
    e.r0 = rows[0].item<int64_t>();
    e.c0 = cols[0].item<int64_t>();
    const int64_t r1 = rows[-1].item<int64_t>() + 1, c1 = cols[-1].item<int64_t>() + 1;
    e.crop = s.slice(1, e.r0, r1).slice(2, e.c0, c1).contiguous().clone();
  }
  entries_.at(index) = std::move(e);
}

void SamplePool::paste(int64_t index, at::Tensor& out) const {
  const Entry& e = entries_.at(index);
  if (!e.crop.defined()) return;
  out.slice(1, e.r0, e.r0 + e.crop.size(1)).slice(2, e.c0, e.c0 + e.crop.size(2)).copy_(e.crop);
}

SamplePool::Batch SamplePool::sample(int64_t n, at::Generator& gen) const {
  auto idx = torch::randperm(size(), gen).slice(0, 0, n);
  auto states = torch::zeros({n, channels_, height_, width_});
  auto v = idx.accessor<int64_t, 1>();
  for (int64_t k = 0; k < n; ++k) {
    auto out = states[k];
    paste(v[k], out);
  }
  return {idx, states};
}

void SamplePool::commit(const at::Tensor& indices, const at::Tensor& states) {
  auto idx = indices.cpu().to(torch::kLong);
  auto v = idx.accessor<int64_t, 1>();
  for (int64_t k = 0; k < idx.size(0); ++k) store(v[k], states[k]);
}

int64_t SamplePool::size() const { return static_cast<int64_t>(entries_.size()); }

at::Tensor SamplePool::state(int64_t index) const {
  auto out = torch::zeros({channels_, height_, width_});
  paste(index, out);
  return out;
}

at::Tensor SamplePool::states() const {
  auto all = torch::zeros({size(), channels_, height_, width_});
  for (int64_t i = 0; i < size(); ++i) {
    auto out = all[i];
    paste(i, out);
  }
  return all;
}

void SamplePool::set_states(const at::Tensor& states) {
  const std::vector<int64_t> shape{size(), channels_, height_, width_};
  if (states.sizes() != at::IntArrayRef(shape))
    throw std::runtime_error("pool of shape " + c10::str(states.sizes()) +
                             " does not fit this run's pool " + c10::str(at::IntArrayRef(shape)));
  for (int64_t i = 0; i < size(); ++i) store(i, states[i]);
}

std::array<int64_t, 4> SamplePool::shape() const { return {size(), channels_, height_, width_}; }

SamplePool::Compact SamplePool::compact() const {
  Compact c;
  c.shape = shape();
  c.boxes = torch::zeros({size(), 4}, torch::kLong);
  auto b = c.boxes.accessor<int64_t, 2>();
  std::vector<at::Tensor> crops;
  for (int64_t i = 0; i < size(); ++i) {
    const Entry& e = entries_[i];
    if (!e.crop.defined()) continue;  // all zero: 0 0 0 0
    b[i][0] = e.r0;
    b[i][1] = e.c0;
    b[i][2] = e.crop.size(1);
    b[i][3] = e.crop.size(2);
    crops.push_back(e.crop.reshape({-1}));
  }
  c.cells = crops.empty() ? torch::zeros({0}) : torch::cat(crops);
  return c;
}

namespace {

std::string shape_text(const std::array<int64_t, 4>& s) {
  return std::to_string(s[0]) + " x " + std::to_string(s[1]) + " x " + std::to_string(s[2]) +
         " x " + std::to_string(s[3]);
}

// A tensor of a file, for a message: its dtype and sizes, or "missing".
std::string tensor_text(const at::Tensor& t) {
  if (!t.defined()) return "missing";
  return std::string(c10::toString(t.scalar_type())) + " " + c10::str(t.sizes());
}

// Each box of `c`, checked against the grid; the number of cells all of them hold.
int64_t check_boxes(const SamplePool::Compact& c) {
  const auto [size, channels, height, width] = c.shape;
  const at::Tensor& boxes = c.boxes;
  if (!boxes.defined() || boxes.scalar_type() != at::kLong || boxes.dim() != 2 ||
      boxes.size(0) != size || boxes.size(1) != 4)
    throw std::runtime_error("its boxes are " + tensor_text(boxes) + ", expected int64 [" +
                             std::to_string(size) + ", 4]");
  const auto b = boxes.contiguous();
  const auto v = b.accessor<int64_t, 2>();
  // Each term is at most 2^34 (limits.h), and there are fewer terms than the file has bytes.
  int64_t needed = 0;
  for (int64_t i = 0; i < size; ++i) {
    const int64_t r0 = v[i][0], c0 = v[i][1], h = v[i][2], w = v[i][3];
    const auto box = [&] {
      return "state " + std::to_string(i) + "'s box (row " + std::to_string(r0) + ", column " +
             std::to_string(c0) + ", " + std::to_string(h) + " x " + std::to_string(w) + ")";
    };
    if (h < 0 || w < 0) throw std::runtime_error(box() + " has a negative size");
    if ((h == 0 || w == 0) && (r0 != 0 || c0 != 0 || h != 0 || w != 0))
      throw std::runtime_error(box() + " is empty but not 0 0 0 0");
    if (r0 < 0 || c0 < 0 || r0 > height - h || c0 > width - w)
      throw std::runtime_error(box() + " reaches outside the " + std::to_string(height) + " x " +
                               std::to_string(width) + " grid");
    needed += channels * h * w;
  }
  return needed;
}

}  // namespace

SamplePool::SamplePool(const Compact& c)
    : channels_(c.shape[1]), height_(c.shape[2]), width_(c.shape[3]) {
  const int64_t size = c.shape[0];
  if (size < 1 || channels_ < 1 || channels_ > limits::kMaxChannels || height_ < 1 || width_ < 1 ||
      height_ > limits::kMaxGridSide || width_ > limits::kMaxGridSide)
    throw std::runtime_error("a pool of " + shape_text(c.shape) +
                             " is none nca makes (at least one state, 1 to " +
                             std::to_string(limits::kMaxChannels) + " channels, a grid of 1 to " +
                             std::to_string(limits::kMaxGridSide) + " cells a side)");
  const int64_t needed = check_boxes(c);
  const at::Tensor& cells = c.cells;
  if (!cells.defined() || cells.scalar_type() != at::kFloat || cells.dim() != 1)
    throw std::runtime_error("its cells are " + tensor_text(cells) + ", expected a float32 vector");
  if (cells.numel() != needed)
    throw std::runtime_error("it holds " + std::to_string(cells.numel()) +
                             " cell values where its boxes need " + std::to_string(needed));
  if (!torch::isfinite(cells).all().item<bool>())
    throw std::runtime_error("it holds values that are not finite float32");
  const auto flat = cells.contiguous();
  entries_.resize(size);
  const auto v = c.boxes.contiguous();
  const auto b = v.accessor<int64_t, 2>();
  int64_t offset = 0;
  for (int64_t i = 0; i < size; ++i) {
    const int64_t h = b[i][2], w = b[i][3], n = channels_ * h * w;
    if (n == 0) continue;
    Entry& e = entries_[i];
    e.r0 = b[i][0];
    e.c0 = b[i][1];
    // A copy of its own: a view would keep all of `cells` alive until every state is replaced.
    e.crop = flat.slice(0, offset, offset + n).view({channels_, h, w}).clone();
    offset += n;
  }
}

}  // namespace nca
