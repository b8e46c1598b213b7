// Circle damage for regenerating training and named cuts for `nca regen`.
#include "nca/damage.h"

#include <algorithm>

#include <torch/torch.h>

#include "nca/errors.h"

namespace nca {

at::Tensor circle_masks(int64_t n, int64_t height, int64_t width, at::Generator& gen) {
  // Grid coordinates span [-1, 1] along each axis (cell centres at the ends), as in the
  // reference's torch.linspace(-1, 1, grid).
  auto ys = torch::linspace(-1.0, 1.0, height).view({1, height, 1});
  auto xs = torch::linspace(-1.0, 1.0, width).view({1, 1, width});
  auto centre = torch::rand({n, 2}, gen) - 0.5;  // column 0: x, column 1: y
  auto radius = (0.3 * torch::rand({n}, gen) + 0.1).view({n, 1, 1});
  auto cx = centre.select(1, 0).view({n, 1, 1});
  auto cy = centre.select(1, 1).view({n, 1, 1});
  auto d = ((xs - cx) / radius).pow(2) + ((ys - cy) / radius).pow(2);
  return (d < 1.0).to(torch::kFloat).unsqueeze(1);
}

Cut parse_cut(const std::string& s) {
  for (auto c : {Cut::Half, Cut::Left, Cut::Right, Cut::Top, Cut::Bottom, Cut::Square, Cut::Circle})
    if (s == to_string(c)) return c;
  throw UsageError("unknown cut '" + s +
                   "': choose half, left, right, top, bottom, square or circle");
}

std::string to_string(Cut c) {
  switch (c) {
    case Cut::Half:
      return "half";
    case Cut::Left:
      return "left";
    case Cut::Right:
      return "right";
    case Cut::Top:
      return "top";
    case Cut::Bottom:
      return "bottom";
    case Cut::Square:
      return "square";
    case Cut::Circle:
      return "circle";
  }
  return "?";
}

at::Tensor cut_mask(const CutSpec& cut, int64_t height, int64_t width, at::Generator& gen) {
  using torch::indexing::Slice;
  auto m = torch::zeros({1, 1, height, width});
  switch (cut.kind) {
    case Cut::Half:
    case Cut::Right:
      m.index_put_({Slice(), Slice(), Slice(), Slice(width / 2)}, 1.0);
      break;
    case Cut::Left:
      m.index_put_({Slice(), Slice(), Slice(), Slice(0, width / 2)}, 1.0);
      break;
    case Cut::Top:
      m.index_put_({Slice(), Slice(), Slice(0, height / 2), Slice()}, 1.0);
      break;
    case Cut::Bottom:
      m.index_put_({Slice(), Slice(), Slice(height / 2), Slice()}, 1.0);
      break;
    case Cut::Square: {
      const int64_t sh = std::clamp<int64_t>(cut.square_side, 0, height);
      const int64_t sw = std::clamp<int64_t>(cut.square_side, 0, width);
      const int64_t y0 = (height - sh) / 2, x0 = (width - sw) / 2;
      m.index_put_({Slice(), Slice(), Slice(y0, y0 + sh), Slice(x0, x0 + sw)}, 1.0);
      break;
    }
    case Cut::Circle:
      m = circle_masks(1, height, width, gen);
      break;
  }
  return m;
}

}  // namespace nca
