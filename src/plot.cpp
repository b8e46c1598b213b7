// Loss-curve and batch pictures, drawn by hand on an RgbImage: no plotting library is packaged
// here.
#include "nca/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include <stb_easy_font.h>

namespace nca {
namespace {

const uint8_t kBlack[3] = {0, 0, 0};
const uint8_t kGrid[3] = {225, 225, 225};
const uint8_t kRaw[3] = {170, 200, 235};
const uint8_t kSmooth[3] = {20, 80, 170};
const uint8_t kMark[3] = {210, 70, 40};
const uint8_t kWhite[3] = {255, 255, 255};

// stb_easy_font's letters are 7 pixels tall above the baseline and reach 2 further below it.
constexpr int kCapHeight = 7, kLineHeight = 9;

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

// Copies `src` into `dst` with its top-left corner at (x, y), clipped to `dst`.
void blit(RgbImage& dst, const RgbImage& src, int x, int y) {
  for (int sy = 0; sy < src.height; ++sy)
    for (int sx = 0; sx < src.width; ++sx)
      set_pixel(dst, x + sx, y + sy, &src.pixels[(static_cast<size_t>(sy) * src.width + sx) * 3]);
}

// Text turned a quarter to the left (read bottom to top), its bounding box's top-left at (x, y).
void draw_text_up(RgbImage& img, int x, int y, const std::string& text, const uint8_t rgb[3],
                  int scale) {
  const int w = text_width(text, scale), h = text_height(text, scale);
  RgbImage flat = blank_image(w, h);
  draw_text(flat, 0, 0, text, kBlack, scale);
  for (int ty = 0; ty < h; ++ty)
    for (int tx = 0; tx < w; ++tx)
      if (flat.pixels[(static_cast<size_t>(ty) * w + tx) * 3] == 0)
        set_pixel(img, x + ty, y + w - 1 - tx, rgb);
}

// The finite points of a curve, in order.
std::vector<std::pair<double, double>> finite_points(const std::vector<double>& xs,
                                                     const std::vector<double>& ys) {
  std::vector<std::pair<double, double>> pts;
  for (size_t i = 0; i < std::min(xs.size(), ys.size()); ++i)
    if (std::isfinite(xs[i]) && std::isfinite(ys[i])) pts.emplace_back(xs[i], ys[i]);
  return pts;
}

}  // namespace

int text_width(const std::string& text, int scale) {
  std::vector<char> buf(text.begin(), text.end());
  buf.push_back('\0');
  return stb_easy_font_width(buf.data()) * scale;
}

int text_height(const std::string& text, int scale) {
  return text.empty() ? 0 : kLineHeight * scale;
}

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

std::vector<PlotMark> lr_change_marks(const std::vector<double>& iterations,
                                      const std::vector<double>& lrs) {
  std::vector<PlotMark> marks;
  for (size_t i = 1; i < std::min(iterations.size(), lrs.size()); ++i) {
    if (lrs[i] == lrs[i - 1] || !std::isfinite(lrs[i]) || !std::isfinite(lrs[i - 1])) continue;
    char label[48];
    if (lrs[i - 1] != 0)
      std::snprintf(label, sizeof label, "lr x%.3g", lrs[i] / lrs[i - 1]);
    else
      std::snprintf(label, sizeof label, "lr %.3g", lrs[i]);
    marks.push_back({iterations[i], label});
  }
  return marks;
}

std::string loss_title(const std::vector<double>& iterations,
                       const std::vector<double>& log10_loss) {
  const auto pts = finite_points(iterations, log10_loss);
  if (pts.empty()) return "log10 loss: no iterations yet";
  const size_t n = std::min<size_t>(pts.size(), kTitleMeanOf);
  double sum = 0;
  for (size_t i = pts.size() - n; i < pts.size(); ++i) sum += pts[i].second;
  char title[128];
  if (n == 1)
    std::snprintf(title, sizeof title, "log10 loss %.3f at iteration %.0f", sum, pts.back().first);
  else
    std::snprintf(title, sizeof title, "log10 loss %.3f (mean of last %zu) at iteration %.0f",
                  sum / static_cast<double>(n), n, pts.back().first);
  return title;
}

RgbImage plot_loss_curve(const std::vector<double>& iterations,
                         const std::vector<double>& log10_loss, const std::vector<PlotMark>& marks,
                         int width, int height) {
  RgbImage img = blank_image(width, height);
  const auto pts = finite_points(iterations, log10_loss);
  // Letters twice the font's size wherever the picture has room for them.
  const int s = width >= 480 && height >= 270 ? 2 : 1;

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
  std::vector<std::pair<double, std::string>> y_ticks;
  int y_tick_width = 0;
  for (double y = y_min; y <= y_max + 1e-9; y += 0.5) {
    char label[32];
    std::snprintf(label, sizeof label, "%.1f", y);
    y_ticks.emplace_back(y, label);
    y_tick_width = std::max(y_tick_width, text_width(label, s));
  }

  // Margins: the title above; the y label (turned) and the tick labels on the left; tick labels
  // and the x label below; half a tick label on the right.
  const int y_label_x = 6;
  const int left = y_label_x + kLineHeight * s + 8 + y_tick_width + 8;
  const int right = 16 * s + 4, top = 8 + kLineHeight * s + 12;
  const int bottom = 6 + kCapHeight * s + 8 + kLineHeight * s + 6;
  const int pw = std::max(2, width - left - right), ph = std::max(2, height - top - bottom);

  const std::string title = loss_title(iterations, log10_loss);
  const int title_scale = text_width(title, s) <= width - 16 ? s : 1;
  draw_text(img, std::max(8, std::min(left, width - 8 - text_width(title, title_scale))), 8, title,
            kBlack, title_scale);

  auto px = [&](double x) { return left + static_cast<int>(std::lround(x / x_max * (pw - 1))); };
  auto py = [&](double y) {
    return top + static_cast<int>(std::lround((y_max - y) / (y_max - y_min) * (ph - 1)));
  };

  // Gridlines and labels: every half decade on y, nice steps on x.
  for (const auto& [y, label] : y_ticks) {
    draw_line(img, left, py(y), left + pw - 1, py(y), kGrid);
    draw_text(img, left - 8 - text_width(label, s), py(y) - kCapHeight * s / 2, label, kBlack, s);
  }
  const double step = std::max(1.0, nice_step(x_max, 6));  // iterations are whole numbers
  for (double x = 0; x <= x_max + 1e-9; x += step) {
    draw_line(img, px(x), top, px(x), top + ph - 1, kGrid);
    char label[32];
    std::snprintf(label, sizeof label, "%.0f", x);
    draw_text(img, px(x) - text_width(label, s) / 2, top + ph + 6, label, kBlack, s);
  }
  draw_text(img, left + pw / 2 - text_width("iteration", s) / 2, height - 6 - kLineHeight * s,
            "iteration", kBlack, s);
  const std::string y_label = "log10 loss";
  draw_text_up(img, y_label_x, top + ph / 2 - text_width(y_label, s) / 2, y_label, kBlack, s);
  draw_line(img, left, top, left, top + ph - 1, kBlack);
  draw_line(img, left, top + ph - 1, left + pw - 1, top + ph - 1, kBlack);

  // Marks as dashed lines under the curves; their labels come last, on white, to stay readable.
  std::vector<std::pair<int, const PlotMark*>> shown;
  for (const PlotMark& m : marks) {
    if (!std::isfinite(m.iteration) || m.iteration < 0 || m.iteration > x_max) continue;
    const int x = px(m.iteration);
    for (int y = top; y < top + ph - 1; y += 8)
      fill_rect(img, x, y, x + s, std::min(y + 5, top + ph - 1), kMark);
    shown.emplace_back(x, &m);
  }

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

  // A label right of its line (left of it near the right edge), a line lower than the label
  // before when the two would overlap.
  int label_y = top + 4, previous_right = -1;
  for (const auto& [x, m] : shown) {
    const int w = text_width(m->label, s), h = kCapHeight * s;
    int lx = x + s + 4;
    if (lx + w > left + pw - 2) lx = x - 4 - w;
    label_y = lx <= previous_right + 4 ? label_y + h + 6 : top + 4;
    fill_rect(img, lx - 2, label_y - 2, lx + w + 2, label_y + h + 2, kWhite);
    draw_text(img, lx, label_y, m->label, kMark, s);
    previous_right = lx + w;
  }
  return img;
}

RgbImage batch_picture(const std::vector<RgbImage>& before, const std::vector<RgbImage>& after,
                       const RgbImage& target, int scale) {
  if (before.empty() || before.size() != after.size()) {
    throw std::runtime_error("batch_picture: expected as many states after the rollout (" +
                             std::to_string(after.size()) + ") as before it (" +
                             std::to_string(before.size()) + "), at least one");
  }
  if (target.width != before[0].width || target.height != before[0].height) {
    throw std::runtime_error("batch_picture: the target (" + std::to_string(target.width) + "x" +
                             std::to_string(target.height) + ") differs in size from the states (" +
                             std::to_string(before[0].width) + "x" +
                             std::to_string(before[0].height) + ")");
  }
  std::vector<RgbImage> cells(before);
  cells.insert(cells.end(), after.begin(), after.end());
  const RgbImage grid = upscale(tile(cells, static_cast<int>(before.size()), 2, kCellGap), scale);
  const RgbImage big_target = upscale(target, scale);

  // The gap around each cell also frames the outer cells, so that every state is boxed alike.
  const int ts = 2, margin = 8, frame = 2 * scale, cell_h = big_target.height;
  const int label_w = std::max(text_width("before", ts), text_width("after", ts));
  const int gx = margin + label_w + margin + frame;
  // The target's column is as wide as the framed target or its label, whichever is wider; the
  // target sits halfway down the two rows with its label above it, and rows too short to leave
  // room for the label push everything down.
  const int column_x = gx + grid.width + frame + 2 * margin;
  const int column_w = std::max(big_target.width + 2 * frame, text_width("target", ts));
  const int tx = column_x + (column_w - big_target.width) / 2;
  const int target_dy = (grid.height - big_target.height) / 2;
  const int label_room = text_height("target", ts) + 4 + frame;
  const int gy = std::max(margin + frame, margin + label_room - target_dy);
  const int ty = gy + target_dy;
  const long long width = static_cast<long long>(column_x) + column_w + margin;
  const long long height = static_cast<long long>(gy) + grid.height + frame + margin;
  if (width > 65535 || height > 65535) {
    throw std::runtime_error("batch_picture: the result (" + std::to_string(width) + "x" +
                             std::to_string(height) + ") is too large");
  }

  RgbImage img = blank_image(static_cast<int>(width), static_cast<int>(height));
  fill_rect(img, gx - frame, gy - frame, gx + grid.width + frame, gy + grid.height + frame,
            kCellGap.data());
  blit(img, grid, gx, gy);
  fill_rect(img, tx - frame, ty - frame, tx + big_target.width + frame,
            ty + big_target.height + frame, kCellGap.data());
  blit(img, big_target, tx, ty);

  const int cap = kCapHeight * ts;
  draw_text(img, margin, gy + cell_h / 2 - cap / 2, "before", kBlack, ts);
  draw_text(img, margin, gy + cell_h + 2 * scale + cell_h / 2 - cap / 2, "after", kBlack, ts);
  draw_text(img, column_x + (column_w - text_width("target", ts)) / 2,
            ty - frame - 4 - text_height("target", ts), "target", kBlack, ts);
  return img;
}

}  // namespace nca
