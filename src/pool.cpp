// SamplePool: the states that persistent and regenerating training start from.
#include "nca/pool.h"

#include <stdexcept>

#include <torch/torch.h>

namespace nca {

SamplePool::SamplePool(int64_t size, const at::Tensor& seed)
    : states_(seed.unsqueeze(0).repeat({size, 1, 1, 1}).contiguous()) {}

SamplePool::Batch SamplePool::sample(int64_t n, at::Generator& gen) const {
  auto idx = torch::randperm(size(), gen).slice(0, 0, n);
  return {idx, states_.index_select(0, idx)};
}

void SamplePool::commit(const at::Tensor& indices, const at::Tensor& states) {
  states_.index_copy_(0, indices.cpu(),
                      states.detach().to(states_.device(), states_.scalar_type()));
}

int64_t SamplePool::size() const { return states_.size(0); }

void SamplePool::set_states(const at::Tensor& states) {
  if (states.sizes() != states_.sizes())
    throw std::runtime_error("pool of shape " + c10::str(states.sizes()) +
                             " does not fit this run's pool " + c10::str(states_.sizes()));
  states_.copy_(states);
}

}  // namespace nca
