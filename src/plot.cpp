// Loss-curve pictures, drawn by hand on an RgbImage: no plotting library is packaged here.
#include "nca/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include <stb_easy_font.h>

namespace nca {
namespace {

const uint8_t kBlack[3] = {0, 0, 0};
const uint8_t kGrid[3] = {225, 225, 225};
const uint8_t kRaw[3] = {170, 200, 235};
const uint8_t kSmooth[3] = {20, 80, 170};

void set_pixel(RgbImage& img, int x, int y, const uint8_t rgb[3]) {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  uint8_t* p = &img.pixels[(static_cast<size_t>(y) * img.width + x) * 3];
  p[0] = rgb[0];
  p[1] = rgb[1];
  p[2] = rgb[2];
}

void fill_rect(RgbImage& img, int x0, int y0, int x1, int y1, const uint8_t rgb[3]) {
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) set_pixel(img, x, y, rgb);
}

void draw_line(RgbImage& img, int x0, int y0, int x1, int y1, const uint8_t rgb[3]) {
  const int dx = std::abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
  const int dy = -std::abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  for (;;) {
    set_pixel(img, x0, y0, rgb);
    if (x0 == x1 && y0 == y1) return;
    const int e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

// 1, 2 or 5 times a power of ten, giving about `ticks` intervals over `range`.
double nice_step(double range, int ticks) {
  const double raw = range / ticks;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * p) return m * p;
  return 10 * p;
}

int text_width(const std::string& text, int scale) {
  std::vector<char> buf(text.begin(), text.end());
  buf.push_back('\0');
  return stb_easy_font_width(buf.data()) * scale;
}

}  // namespace

RgbImage blank_image(int width, int height) {
  RgbImage img;
  img.width = width;
  img.height = height;
  img.pixels.assign(static_cast<size_t>(width) * height * 3, 255);
  return img;
}

void draw_text(RgbImage& img, int x, int y, const std::string& text, const uint8_t rgb[3],
               int scale) {
  std::vector<char> str(text.begin(), text.end());
  str.push_back('\0');
  // stb_easy_font emits axis-aligned quads: 4 vertices of x, y, z (float) and RGBA (bytes).
  struct Vertex {
    float x, y, z;
    uint8_t c[4];
  };
  std::vector<Vertex> quads(text.size() * 70 + 64);
  const int n = stb_easy_font_print(0, 0, str.data(), nullptr, quads.data(),
                                    static_cast<int>(quads.size() * sizeof(Vertex)));
  for (int q = 0; q < n; ++q) {
    const Vertex* v = &quads[q * 4];
    fill_rect(img, x + static_cast<int>(v[0].x) * scale, y + static_cast<int>(v[0].y) * scale,
              x + static_cast<int>(v[2].x) * scale, y + static_cast<int>(v[2].y) * scale, rgb);
  }
}

RgbImage plot_loss_curve(const std::vector<double>& iterations,
                         const std::vector<double>& log10_loss, int width, int height) {
  RgbImage img = blank_image(width, height);
  const int left = 64, right = 20, top = 34, bottom = 40;
  const int pw = width - left - right, ph = height - top - bottom;

  std::vector<std::pair<double, double>> pts;
  for (size_t i = 0; i < std::min(iterations.size(), log10_loss.size()); ++i)
    if (std::isfinite(iterations[i]) && std::isfinite(log10_loss[i]))
      pts.emplace_back(iterations[i], log10_loss[i]);

  char title[128];
  if (pts.empty())
    std::snprintf(title, sizeof title, "log10 loss: no iterations yet");
  else
    std::snprintf(title, sizeof title, "log10 loss %.3f at iteration %.0f", pts.back().second,
                  pts.back().first);
  draw_text(img, left, 8, title, kBlack, 2);

  double x_max = 1, y_min = -1, y_max = 0;
  if (!pts.empty()) {
    x_max = std::max(1.0, pts.back().first);
    y_min = y_max = pts.front().second;
    for (const auto& p : pts) {
      x_max = std::max(x_max, p.first);
      y_min = std::min(y_min, p.second);
      y_max = std::max(y_max, p.second);
    }
    y_min = std::floor(y_min * 2) / 2;  // half decades keep a flat curve off the frame
    y_max = std::ceil(y_max * 2) / 2;
    if (y_max - y_min < 0.5) y_max = y_min + 0.5;
  }
  auto px = [&](double x) { return left + static_cast<int>(std::lround(x / x_max * (pw - 1))); };
  auto py = [&](double y) {
    return top + static_cast<int>(std::lround((y_max - y) / (y_max - y_min) * (ph - 1)));
  };

  // Gridlines and labels: every half decade on y, nice steps on x.
  for (double y = y_min; y <= y_max + 1e-9; y += 0.5) {
    draw_line(img, left, py(y), left + pw - 1, py(y), kGrid);
    char label[32];
    std::snprintf(label, sizeof label, "%.1f", y);
    draw_text(img, left - 8 - text_width(label, 1), py(y) - 3, label, kBlack, 1);
  }
  const double step = nice_step(x_max, 6);
  for (double x = 0; x <= x_max + 1e-9; x += step) {
    draw_line(img, px(x), top, px(x), top + ph - 1, kGrid);
    char label[32];
    std::snprintf(label, sizeof label, "%.0f", x);
    draw_text(img, px(x) - text_width(label, 1) / 2, top + ph + 6, label, kBlack, 1);
  }
  draw_text(img, left + pw / 2 - text_width("iteration", 1) / 2, height - 14, "iteration", kBlack,
            1);
  draw_line(img, left, top, left, top + ph - 1, kBlack);
  draw_line(img, left, top + ph - 1, left + pw - 1, top + ph - 1, kBlack);

  // Raw values in light blue, a centred moving average on top: single iterations are noisy.
  for (size_t i = 1; i < pts.size(); ++i)
    draw_line(img, px(pts[i - 1].first), py(pts[i - 1].second), px(pts[i].first), py(pts[i].second),
              kRaw);
  const int half = static_cast<int>(pts.size() / 100);
  if (half > 0) {
    std::vector<double> prefix(pts.size() + 1, 0.0);
    for (size_t i = 0; i < pts.size(); ++i) prefix[i + 1] = prefix[i] + pts[i].second;
    auto smooth = [&](size_t i) {
      const size_t a = i >= static_cast<size_t>(half) ? i - half : 0;
      const size_t b = std::min(pts.size(), i + half + 1);
      return (prefix[b] - prefix[a]) / static_cast<double>(b - a);
    };
    for (size_t i = 1; i < pts.size(); ++i)
      draw_line(img, px(pts[i - 1].first), py(smooth(i - 1)), px(pts[i].first), py(smooth(i)),
                kSmooth);
  }
  return img;
}

}  // namespace nca
