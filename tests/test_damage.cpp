// Damage masks: circle geometry (docs/design.md §2) and the named cuts of `nca regen`.
#include <cmath>

#include <torch/torch.h>
#include "catch.h"

#include "nca/damage.h"
#include "nca/errors.h"

TEST_CASE("circle masks follow centre U[-0.5,0.5]^2 and radius U[0.1,0.4] on a [-1,1] grid") {
  const int n = 6, h = 40, w = 30;
  auto gen = at::detail::createCPUGenerator(11);
  auto masks = nca::circle_masks(n, h, w, gen);
  REQUIRE(masks.sizes() == torch::IntArrayRef({n, 1, h, w}));
  // Draw the same numbers again and rebuild each mask cell by cell.
  auto again = at::detail::createCPUGenerator(11);
  auto centre = torch::rand({n, 2}, again);
  auto radius = torch::rand({n}, again);
  for (int i = 0; i < n; ++i) {
    const double cx = centre[i][0].item<double>() - 0.5, cy = centre[i][1].item<double>() - 0.5;
    const double r = 0.3 * radius[i].item<double>() + 0.1;
    REQUIRE(r >= 0.1);
    REQUIRE(r <= 0.4);
    int mismatches = 0, inside = 0;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const double px = -1.0 + 2.0 * x / (w - 1), py = -1.0 + 2.0 * y / (h - 1);
        const bool in = (px - cx) * (px - cx) + (py - cy) * (py - cy) < r * r;
        inside += in;
        mismatches += in != (masks[i][0][y][x].item<float>() == 1.0f);
      }
    }
    CHECK(mismatches == 0);
    // Area: pi r^2 in [-1,1]^2 units is pi r^2 / 4 of the grid.
    CHECK(inside == Approx(M_PI * r * r / 4 * (h - 1) * (w - 1)).epsilon(0.2));
  }
  CHECK(((masks == 0) | (masks == 1)).all().item<bool>());
}

TEST_CASE("named cuts remove exactly the cells they name") {
  auto gen = at::detail::createCPUGenerator(0);
  const int h = 8, w = 10;
  auto count = [](const torch::Tensor& m) { return m.sum().item<float>(); };
  auto half = nca::cut_mask(nca::Cut::Half, h, w, gen);
  CHECK(count(half) == h * 5);
  CHECK(half[0][0][0][5].item<float>() == 1.0f);
  CHECK(half[0][0][7][4].item<float>() == 0.0f);
  CHECK(torch::equal(half, nca::cut_mask(nca::Cut::Right, h, w, gen)));
  auto left = nca::cut_mask(nca::Cut::Left, h, w, gen);
  CHECK(torch::equal(left + half, torch::ones({1, 1, h, w})));
  auto top = nca::cut_mask(nca::Cut::Top, h, w, gen);
  CHECK(count(top) == 4 * w);
  CHECK(top[0][0][3][9].item<float>() == 1.0f);
  CHECK(top[0][0][4][0].item<float>() == 0.0f);
  CHECK(torch::equal(top + nca::cut_mask(nca::Cut::Bottom, h, w, gen), torch::ones({1, 1, h, w})));
  // A 4-cell square on 8 x 10: rows 2..5 (y0 = (8-4)/2), cols 3..6 (x0 = (10-4)/2).
  auto square = nca::cut_mask(nca::CutSpec(nca::Cut::Square, 4), h, w, gen);
  CHECK(count(square) == 4 * 4);
  CHECK(square[0][0][1][3].item<float>() == 0.0f);
  CHECK(square[0][0][2][7].item<float>() == 0.0f);
  CHECK(square[0][0][6][4].item<float>() == 0.0f);
  CHECK(square.index({0, 0, torch::indexing::Slice(2, 6), torch::indexing::Slice(3, 7)})
            .min()
            .item<float>() == 1.0f);
  // Larger than the grid: clipped to it.
  CHECK(count(nca::cut_mask(nca::CutSpec(nca::Cut::Square, 40), h, w, gen)) == h * w);
  auto circle = nca::cut_mask(nca::Cut::Circle, 32, 32, gen);
  CHECK(count(circle) > 0);
}

TEST_CASE("cut square is Distill's centred 16x16 square: cells 28-43 on the 72x72 grid") {
  auto gen = at::detail::createCPUGenerator(0);
  auto m = nca::cut_mask(nca::Cut::Square, 72, 72, gen);
  CHECK(m.sum().item<float>() == 16 * 16);
  using torch::indexing::Slice;
  CHECK(m.index({0, 0, Slice(28, 44), Slice(28, 44)}).min().item<float>() == 1.0f);
  CHECK(m[0][0][27][30].item<float>() == 0.0f);
  CHECK(m[0][0][44][30].item<float>() == 0.0f);
  CHECK(m[0][0][30][27].item<float>() == 0.0f);
  CHECK(m[0][0][30][44].item<float>() == 0.0f);
  // Centred likewise on another grid: 40 x 64 -> rows 12..27, columns 24..39.
  auto r = nca::cut_mask(nca::Cut::Square, 40, 64, gen);
  CHECK(r.sum().item<float>() == 16 * 16);
  CHECK(r.index({0, 0, Slice(12, 28), Slice(24, 40)}).min().item<float>() == 1.0f);
}

TEST_CASE("cut names parse, unknown names are a usage error") {
  CHECK(nca::parse_cut("square") == nca::Cut::Square);
  CHECK(nca::to_string(nca::Cut::Bottom) == "bottom");
  CHECK_THROWS_AS(nca::parse_cut("diagonal"), nca::UsageError);
}
