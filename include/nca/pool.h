// The sample pool of the persistent and regenerating experiments (docs/design.md §2). Each state is
// kept as the bounding box of its nonzero cells (exact: everything outside is zero), because grown
// states fill a fraction of the grid and the whole pool as one tensor would be most of the
// trainer's memory (1024 x 16 x 72 x 72 floats = 340 MB).
#pragma once

#include <array>
#include <vector>

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
  // One state, C x H x W: assembled, a copy (cheap, unlike states()).
  at::Tensor state(int64_t index) const;
  // All states, size x C x H x W: assembled, a copy.
  at::Tensor states() const;
  void set_states(const at::Tensor& states);  // must match the current shape
  std::array<int64_t, 4> shape() const;       // size, C, H, W

  // The pool as it is kept (what pool.pt stores, pool_file.h): no full-size tensor assembled.
  struct Compact {
    std::array<int64_t, 4> shape{};  // size, C, H, W
    at::Tensor boxes;  // int64, size x 4: r0, c0, h, w of the nonzero cells (0 0 0 0: none)
    at::Tensor cells;  // float32, each state's C x h x w cells flattened, concatenated in order
  };
  Compact compact() const;
  // The pool `c` describes, bit for bit, once it is found consistent: a shape within
  // limits.h, every box inside the grid, exactly sum(C x h x w) finite float32 cells. Throws
  // std::runtime_error naming the first inconsistency. Allocates no more than `c` holds.
  explicit SamplePool(const Compact& c);

 private:
  // The nonzero cells of one state: crop is C x h x w at (r0, c0), undefined when all zero.
  struct Entry {
    int64_t r0 = 0, c0 = 0;
    at::Tensor crop;
  };
  void store(int64_t index, const at::Tensor& state);  // state: C x H x W
  void paste(int64_t index, at::Tensor& out) const;    // out: C x H x W zeros

  std::vector<Entry> entries_;
  int64_t channels_ = 0, height_ = 0, width_ = 0;
};

}  // namespace nca
