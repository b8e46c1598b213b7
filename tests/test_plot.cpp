// The loss-curve and batch pictures, and text drawing.
#include "catch.h"

#include "nca/plot.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace {

int count_colour(const nca::RgbImage& img, uint8_t r, uint8_t g, uint8_t b) {
  int n = 0;
  for (size_t i = 0; i < img.pixels.size(); i += 3)
    n += img.pixels[i] == r && img.pixels[i + 1] == g && img.pixels[i + 2] == b;
  return n;
}

// Pixels of colour (r, g, b) in the rectangle [x0, x1) x [y0, y1).
int count_in(const nca::RgbImage& img, int x0, int y0, int x1, int y1, uint8_t r, uint8_t g,
             uint8_t b) {
  int n = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const uint8_t* p = &img.pixels[(static_cast<size_t>(y) * img.width + x) * 3];
      n += p[0] == r && p[1] == g && p[2] == b;
    }
  return n;
}

nca::RgbImage solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  nca::RgbImage img = nca::blank_image(w, h);
  for (size_t i = 0; i < img.pixels.size(); i += 3) {
    img.pixels[i] = r;
    img.pixels[i + 1] = g;
    img.pixels[i + 2] = b;
  }
  return img;
}

// A falling, noisy loss history over `n` iterations.
void history(int n, std::vector<double>& it, std::vector<double>& lg) {
  for (int i = 0; i < n; ++i) {
    it.push_back(i);
    lg.push_back(-1.0 - i / 250.0 + ((i % 2) ? 0.05 : -0.05));
  }
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
  auto img = nca::plot_loss_curve(it, lg, {}, 640, 360);
  CHECK(img.width == 640);
  CHECK(img.height == 360);
  CHECK(count_colour(img, 170, 200, 235) > 100);  // raw values
  CHECK(count_colour(img, 20, 80, 170) > 100);    // moving average
  CHECK(count_colour(img, 0, 0, 0) > 500);        // axes and labels
  auto empty = nca::plot_loss_curve({}, {}, {}, 320, 200);
  CHECK(empty.width == 320);
}

TEST_CASE("the loss curve has a y-axis label in its left margin") {
  std::vector<double> it, lg;
  history(500, it, lg);
  const auto img = nca::plot_loss_curve(it, lg);
  // The tick labels stand right-aligned against the axis; "log10 loss" runs up the far left.
  const int dark = count_in(img, 0, img.height / 4, 24, img.height * 3 / 4, 0, 0, 0);
  CHECK(dark > 100);
  // Turned text is taller than it is wide.
  int top = img.height, bottom = -1;
  for (int y = 0; y < img.height; ++y)
    if (count_in(img, 0, y, 24, y + 1, 0, 0, 0) > 0) top = std::min(top, y), bottom = y;
  CHECK(bottom - top > 60);
}

TEST_CASE("the loss curve's labels are drawn twice the font's size") {
  std::vector<double> it, lg;
  history(500, it, lg);
  const auto img = nca::plot_loss_curve(it, lg);
  // "iteration" under the x axis: at scale 2 its letters are 14 pixels tall.
  int top = img.height, bottom = -1;
  for (int y = img.height * 3 / 4; y < img.height; ++y)
    if (count_in(img, img.width / 3, y, img.width * 2 / 3, y + 1, 0, 0, 0) > 0)
      top = std::min(top, y), bottom = y;
  REQUIRE(bottom > top);
  // Two lines of letters: the tick labels, then "iteration"; each is 14 rows at scale 2.
  int rows = 0;
  for (int y = top; y <= bottom; ++y)
    rows += count_in(img, img.width / 3, y, img.width * 2 / 3, y + 1, 0, 0, 0) > 0;
  CHECK(rows >= 2 * 14);
}

TEST_CASE("loss_title gives the mean of the last 100 iterations") {
  CHECK(nca::loss_title({}, {}) == "log10 loss: no iterations yet");
  CHECK(nca::loss_title({7}, {-1.25}) == "log10 loss -1.250 at iteration 7");
  std::vector<double> it, lg;
  for (int i = 0; i < 300; ++i) {
    it.push_back(i);
    // 200 iterations at -1, then 100 alternating between -2.5 and -1.5: a mean of -2.
    lg.push_back(i < 200 ? -1.0 : (i % 2 ? -2.5 : -1.5));
  }
  CHECK(nca::loss_title(it, lg) == "log10 loss -2.000 (mean of last 100) at iteration 299");
  // Fewer than 100 iterations: the mean of them all. Points that are not finite do not count.
  CHECK(nca::loss_title({0, 1, 2, 3}, {-1, -2, std::nan(""), -3}) ==
        "log10 loss -2.000 (mean of last 3) at iteration 3");
}

TEST_CASE("the loss curve's title shows the smoothed loss, not the last iteration") {
  // Two runs with the same first and last points and the same range, whose recent means differ.
  std::vector<double> it, a, b;
  for (int i = 0; i < 200; ++i) {
    it.push_back(i);
    const bool end = i == 0 || i == 199;
    a.push_back(end ? (i == 0 ? -1.0 : -3.0) : -2.0);
    b.push_back(end ? (i == 0 ? -1.0 : -3.0) : -2.5);
  }
  const auto pa = nca::plot_loss_curve(it, a), pb = nca::plot_loss_curve(it, b);
  REQUIRE(pa.width == pb.width);
  // The band above the plot holds the title alone.
  const size_t band = static_cast<size_t>(pa.width) * 3 * 26;
  CHECK(std::vector<uint8_t>(pa.pixels.begin(), pa.pixels.begin() + band) !=
        std::vector<uint8_t>(pb.pixels.begin(), pb.pixels.begin() + band));
  // and it is loss_title() drawn at twice the font's size
  auto expected = nca::blank_image(pa.width, 26);
  const uint8_t black[3] = {0, 0, 0};
  const std::string title = nca::loss_title(it, a);
  int x = -1;
  for (int c = 0; c < pa.width && x < 0; ++c)
    if (count_in(pa, c, 0, c + 1, 26, 0, 0, 0) > 0) x = c;
  REQUIRE(x >= 0);
  nca::draw_text(expected, x, 8, title, black, 2);
  CHECK(std::vector<uint8_t>(pa.pixels.begin(), pa.pixels.begin() + band) == expected.pixels);
}

TEST_CASE("the loss curve's x ticks fall on whole iterations") {
  // Three iterations: gridlines at 1 and 2 (0 is the axis), not at halves labelled "0", "1", "2".
  const auto img = nca::plot_loss_curve({0, 1, 2}, {-1.5, -1.6, -1.7});
  int gridlines = 0;
  for (int x = 0; x < img.width; ++x)
    gridlines += count_in(img, x, 0, x + 1, img.height, 225, 225, 225) > img.height / 2;
  CHECK(gridlines == 2);
}

TEST_CASE("lr_change_marks marks every change of the learning rate") {
  const auto marks = nca::lr_change_marks({0, 1, 2, 3, 4, 5}, {2e-3, 2e-3, 2e-4, 2e-4, 0, 1e-3});
  REQUIRE(marks.size() == 3);
  CHECK(marks[0].iteration == 2);
  CHECK(marks[0].label == "lr x0.1");
  CHECK(marks[1].iteration == 4);
  CHECK(marks[1].label == "lr x0");
  CHECK(marks[2].iteration == 5);
  CHECK(marks[2].label == "lr 0.001");
  CHECK(nca::lr_change_marks({0, 1}, {1e-3, 1e-3}).empty());
  CHECK(nca::lr_change_marks({}, {}).empty());
}

TEST_CASE("a learning-rate mark is a dashed line with its label") {
  std::vector<double> it, lg;
  history(500, it, lg);
  const auto plain = nca::plot_loss_curve(it, lg);
  const auto marked = nca::plot_loss_curve(it, lg, {{250, "lr x0.1"}});
  REQUIRE(plain.width == marked.width);
  // The mark's colour, and only in a narrow band of columns (plus its label to the right).
  CHECK(count_colour(plain, 210, 70, 40) == 0);
  const int marked_px = count_colour(marked, 210, 70, 40);
  CHECK(marked_px > 200);
  int first = marked.width, last = -1;
  for (int x = 0; x < marked.width; ++x)
    if (count_in(marked, x, 0, x + 1, marked.height, 210, 70, 40) > 100)
      first = std::min(first, x), last = x;
  REQUIRE(last >= 0);
  CHECK(last - first <= 1);  // a line 2 pixels wide
  // dashed: within the line's extent, some rows of its column are not the mark's colour
  int y0 = marked.height, y1 = -1;
  for (int y = 0; y < marked.height; ++y)
    if (count_in(marked, first, y, first + 1, y + 1, 210, 70, 40)) y0 = std::min(y0, y), y1 = y;
  CHECK(count_in(marked, first, y0, first + 1, y1 + 1, 210, 70, 40) < (y1 - y0 + 1) * 3 / 4);
  CHECK(y1 - y0 > marked.height / 2);
  // halfway along an x axis that runs from 0 to 499
  const int half = (first + last) / 2;
  CHECK(half > marked.width * 2 / 5);
  CHECK(half < marked.width * 3 / 5);
  // the label: short runs of the mark's colour right of the line
  CHECK(count_in(marked, last + 1, 0, last + 100, marked.height, 210, 70, 40) > 30);
  // A mark outside the iterations drawn is left out.
  CHECK(count_colour(nca::plot_loss_curve(it, lg, {{5000, "lr x0.1"}}), 210, 70, 40) == 0);
}

TEST_CASE("the batch picture labels its rows and shows the target on the right") {
  const int n = 3, side = 6, scale = 2;
  std::vector<nca::RgbImage> before, after;
  for (int k = 0; k < n; ++k) {
    before.push_back(solid(side, side, 10, 100, static_cast<uint8_t>(10 + k)));
    after.push_back(solid(side, side, 100, 10, static_cast<uint8_t>(10 + k)));
  }
  const nca::RgbImage target = solid(side, side, 30, 160, 60);
  const auto img = nca::batch_picture(before, after, target, scale);

  // Each state once, enlarged.
  const int cell = side * scale * side * scale;
  for (int k = 0; k < n; ++k) {
    CHECK(count_colour(img, 10, 100, static_cast<uint8_t>(10 + k)) == cell);
    CHECK(count_colour(img, 100, 10, static_cast<uint8_t>(10 + k)) == cell);
  }
  // The target once, enlarged, as one square right of every state.
  int tx0 = img.width, ty0 = img.height, tx1 = -1, ty1 = -1, states_right = -1;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const uint8_t* p = &img.pixels[(static_cast<size_t>(y) * img.width + x) * 3];
      if (p[0] == 30 && p[1] == 160 && p[2] == 60) {
        tx0 = std::min(tx0, x), ty0 = std::min(ty0, y), tx1 = std::max(tx1, x), ty1 = y;
      } else if ((p[0] == 10 && p[1] == 100) || (p[0] == 100 && p[1] == 10)) {
        states_right = std::max(states_right, x);
      }
    }
  REQUIRE(tx1 >= 0);
  CHECK(tx1 - tx0 + 1 == side * scale);
  CHECK(ty1 - ty0 + 1 == side * scale);
  CHECK(count_colour(img, 30, 160, 60) == cell);
  CHECK(tx0 > states_right);
  // Grey between the cells and around them.
  CHECK(count_colour(img, 200, 200, 200) > 0);
  CHECK(count_in(img, tx0 - 1, ty0, tx0, ty1 + 1, 200, 200, 200) == side * scale);
  // Labels: "target" above the target, "before" and "after" left of their rows, and no other
  // text.
  const int label_h = 18;  // scale 2
  CHECK(count_in(img, states_right + 1, ty0 - label_h - 8, img.width, ty0, 0, 0, 0) > 30);
  int states_left = img.width;
  for (int x = 0; x < img.width && states_left == img.width; ++x)
    if (count_in(img, x, 0, x + 1, img.height, 10, 100, 10) > 0) states_left = x;
  auto rows_of = [&](uint8_t r, uint8_t g, int& y0, int& y1) {
    y0 = img.height, y1 = -1;
    for (int y = 0; y < img.height; ++y)
      if (count_in(img, states_left, y, states_left + 1, y + 1, r, g, 10))
        y0 = std::min(y0, y), y1 = y;
  };
  int b0, b1, a0, a1;
  rows_of(10, 100, b0, b1);
  rows_of(100, 10, a0, a1);
  CHECK(b1 - b0 + 1 == side * scale);
  CHECK(a0 > b1);
  CHECK(count_in(img, 0, b0, states_left, b1 + 1, 0, 0, 0) > 30);
  CHECK(count_in(img, 0, a0, states_left, a1 + 1, 0, 0, 0) > 30);
  const int dark = count_colour(img, 0, 0, 0);
  // (letters 14 pixels tall, centred on rows 12 pixels tall)
  CHECK(count_in(img, 0, b0 - 1, states_left, b1 + 2, 0, 0, 0) +
            count_in(img, 0, a0 - 1, states_left, a1 + 2, 0, 0, 0) +
            count_in(img, states_right + 1, ty0 - label_h - 8, img.width, ty0, 0, 0, 0) ==
        dark);

  CHECK_THROWS_AS(nca::batch_picture(before, {}, target), std::runtime_error);
  CHECK_THROWS_AS(nca::batch_picture(before, after, solid(side + 1, side, 0, 0, 0)),
                  std::runtime_error);
}
