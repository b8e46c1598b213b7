// The loss-curve picture and text drawing.
#include "catch.h"

#include "nca/plot.h"

namespace {

int count_colour(const nca::RgbImage& img, uint8_t r, uint8_t g, uint8_t b) {
  int n = 0;
  for (size_t i = 0; i < img.pixels.size(); i += 3)
    n += img.pixels[i] == r && img.pixels[i + 1] == g && img.pixels[i + 2] == b;
  return n;
}

}  // namespace

TEST_CASE("draw_text puts dark pixels where the text is, scaled") {
  auto img = nca::blank_image(60, 20);
  const uint8_t black[3] = {0, 0, 0};
  nca::draw_text(img, 2, 2, "Hi", black, 2);
  const int dark = count_colour(img, 0, 0, 0);
  CHECK(dark > 20);
  auto small = nca::blank_image(60, 20);
  nca::draw_text(small, 2, 2, "Hi", black, 1);
  CHECK(count_colour(small, 0, 0, 0) * 4 == dark);
}

TEST_CASE("the loss curve has its size, a raw curve, a smoothed curve and axes") {
  std::vector<double> it, lg;
  for (int i = 0; i < 500; ++i) {
    it.push_back(i);
    lg.push_back(-1.0 - i / 250.0 + ((i % 2) ? 0.05 : -0.05));
  }
  auto img = nca::plot_loss_curve(it, lg, 640, 360);
  CHECK(img.width == 640);
  CHECK(img.height == 360);
  CHECK(count_colour(img, 170, 200, 235) > 100);  // raw values
  CHECK(count_colour(img, 20, 80, 170) > 100);    // moving average
  CHECK(count_colour(img, 0, 0, 0) > 500);        // axes and labels
  auto empty = nca::plot_loss_curve({}, {}, 320, 200);
  CHECK(empty.width == 320);
}
