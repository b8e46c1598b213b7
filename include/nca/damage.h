// Damage masks: random circles for regenerating training, named cuts for `nca regen`.
#pragma once

#include <string>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

namespace nca {

// N x 1 x H x W float, 1 inside a circle: centre uniform in [-0.5, 0.5]^2 and radius uniform in
// [0.1, 0.4], in coordinates where the grid spans [-1, 1] (DESIGN §2).
at::Tensor circle_masks(int64_t n, int64_t height, int64_t width, at::Generator& gen);

enum class Cut { Half, Left, Right, Top, Bottom, Square, Circle };
Cut parse_cut(const std::string& s);  // throws UsageError naming the choices
std::string to_string(Cut c);

// 1 x 1 x H x W float, 1 on the cells the cut removes. half = right = the right half,
// left/top/bottom their halves, square a centred square of half the grid's side, circle one
// random circle as in circle_masks (drawn from gen).
at::Tensor cut_mask(Cut cut, int64_t height, int64_t width, at::Generator& gen);

}  // namespace nca
