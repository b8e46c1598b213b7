// SamplePool: the states that persistent and regenerating training start from.
#include "nca/pool.h"

#include <stdexcept>

#include <torch/torch.h>

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

}  // namespace nca
