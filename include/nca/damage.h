// Damage masks: random circles for regenerating training, named cuts for `nca regen`.
#pragma once

#include <string>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

namespace nca {

// N x 1 x H x W float, 1 inside a circle: centre uniform in [-0.5, 0.5]^2 and radius uniform in
// [0.1, 0.4], in coordinates where the grid spans [-1, 1] (docs/design.md §2).
at::Tensor circle_masks(int64_t n, int64_t height, int64_t width, at::Generator& gen);

enum class Cut { Half, Left, Right, Top, Bottom, Square, Circle };
Cut parse_cut(const std::string& s);  // throws UsageError naming the choices
std::string to_string(Cut c);

// Distill's regeneration demo cuts a centred 16 x 16 square: cells 28-43 on the 72 x 72 grid.
inline constexpr int64_t kDistillSquareSide = 16;

// A named cut and, for the square, its side in cells (implicit from a Cut: Distill's square).
struct CutSpec {
  CutSpec(Cut kind_ = Cut::Half, int64_t square_side_ = kDistillSquareSide)  // NOLINT: implicit
      : kind(kind_), square_side(square_side_) {}
  Cut kind;
  int64_t square_side;  // side of the centred square (clipped to the grid); square only
};

// 1 x 1 x H x W float, 1 on the cells the cut removes. half = right = the right half,
// left/top/bottom their halves, square a centred square_side x square_side square (rows and
// columns from (H - side) / 2 and (W - side) / 2, clipped to the grid), circle one random
// circle as in circle_masks (drawn from gen).
at::Tensor cut_mask(const CutSpec& cut, int64_t height, int64_t width, at::Generator& gen);

}  // namespace nca
