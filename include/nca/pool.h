// The sample pool of the persistent and regenerating experiments (DESIGN §2).
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

namespace nca {

class SamplePool {
 public:
  // `size` copies of `seed` (C x H x W).
  SamplePool(int64_t size, const at::Tensor& seed);

  struct Batch {
    at::Tensor indices;  // int64, n
    at::Tensor states;   // n x C x H x W, a copy
  };
  // n distinct indices, uniformly drawn from gen.
  Batch sample(int64_t n, at::Generator& gen) const;
  // Writes states back at indices.
  void commit(const at::Tensor& indices, const at::Tensor& states);

  int64_t size() const;
  const at::Tensor& states() const { return states_; }
  void set_states(const at::Tensor& states);  // must match the current shape

 private:
  at::Tensor states_;  // size x C x H x W
};

}  // namespace nca
