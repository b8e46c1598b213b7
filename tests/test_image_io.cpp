// image_io: target loading (shrinking, premultiplying, centring), rendering on white, PNG and
// GIF output. Small images with known pixels are written with stb_image_write into a TempDir.
#include "nca/image_io.h"

#include <stb/stb_image_write.h>
#include <torch/torch.h>
#include "catch.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "nca/errors.h"
#include "test_util.h"

namespace {

using nca::RgbImage;
using nca::Target;

void write_rgba_png(const std::string& path, int w, int h, const std::vector<uint8_t>& rgba) {
  REQUIRE(rgba.size() == static_cast<size_t>(w * h * 4));
  REQUIRE(stbi_write_png(path.c_str(), w, h, 4, rgba.data(), w * 4) != 0);
}

// A w x h image of one colour.
std::vector<uint8_t> solid(int w, int h, uint8_t r, uint8_t g, uint8_t b, uint8_t a) {
  std::vector<uint8_t> px;
  for (int i = 0; i < w * h; ++i) px.insert(px.end(), {r, g, b, a});
  return px;
}

float val(const Target& t, int c, int y, int x) {
  return t.rgba[(static_cast<size_t>(c) * t.grid + y) * t.grid + x];
}

// The rows and columns of the grid that hold any non-zero alpha.
struct Box {
  int y_min, y_max, x_min, x_max;
};
Box alpha_box(const Target& t) {
  Box b{t.grid, -1, t.grid, -1};
  for (int y = 0; y < t.grid; ++y) {
    for (int x = 0; x < t.grid; ++x) {
      if (val(t, 3, y, x) != 0.0f) {
        b.y_min = std::min(b.y_min, y);
        b.y_max = std::max(b.y_max, y);
        b.x_min = std::min(b.x_min, x);
        b.x_max = std::max(b.x_max, x);
      }
    }
  }
  return b;
}

template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  FAIL("no exception was thrown");
  return {};
}

RgbImage rgb(int w, int h, std::vector<uint8_t> px) {
  RgbImage img;
  img.width = w;
  img.height = h;
  img.pixels = std::move(px);
  return img;
}

std::vector<uint8_t> pixel(const RgbImage& img, int y, int x) {
  const size_t i = (static_cast<size_t>(y) * img.width + x) * 3;
  return {img.pixels[i], img.pixels[i + 1], img.pixels[i + 2]};
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("load_target premultiplies alpha and centres an image that already fits", "[image_io]") {
  nca::test::TempDir dir;
  const std::string path = dir.file("small.png");
  // 4 x 2, half of it transparent or partly so.
  // clang-format off
  write_rgba_png(path, 4, 2, {
      255, 128,   0, 128,     0,   0, 255, 255,    10,  20,  30,   0,   255, 255, 255, 255,
      100, 200,  50,  64,     0,   0,   0,   0,   255,   0,   0, 255,     0, 255,   0, 128});
  // clang-format on
  const Target t = nca::load_target(path, 4, 1);
  REQUIRE(t.grid == 6);
  REQUIRE(t.image_width == 4);
  REQUIRE(t.image_height == 2);
  REQUIRE_FALSE(t.opaque);
  REQUIRE(t.rgba.size() == 4u * 6 * 6);

  // y0 = (6 - 2) / 2 = 2, x0 = (6 - 4) / 2 = 1.
  const double a = 128.0 / 255.0;
  CHECK(val(t, 0, 2, 1) == Approx(1.0 * a).margin(1e-6));
  CHECK(val(t, 1, 2, 1) == Approx(128.0 / 255.0 * a).margin(1e-6));
  CHECK(val(t, 2, 2, 1) == 0.0f);
  CHECK(val(t, 3, 2, 1) == Approx(a).margin(1e-6));
  CHECK(val(t, 2, 2, 2) == 1.0f);  // opaque blue stays exactly 1
  CHECK(val(t, 3, 2, 2) == 1.0f);
  for (int c = 0; c < 4; ++c) CHECK(val(t, c, 2, 3) == 0.0f);  // alpha 0 drops its colour
  const double q = 64.0 / 255.0;
  CHECK(val(t, 0, 3, 1) == Approx(100.0 / 255.0 * q).margin(1e-6));
  CHECK(val(t, 1, 3, 1) == Approx(200.0 / 255.0 * q).margin(1e-6));
  CHECK(val(t, 2, 3, 1) == Approx(50.0 / 255.0 * q).margin(1e-6));
  CHECK(val(t, 3, 3, 1) == Approx(q).margin(1e-6));
  CHECK(val(t, 1, 3, 4) == Approx(a).margin(1e-6));

  // Everything outside rows 2..3 and columns 1..4 is padding.
  const Box b = alpha_box(t);
  CHECK(b.y_min == 2);
  CHECK(b.y_max == 3);
  CHECK(b.x_min == 1);
  CHECK(b.x_max == 4);
  for (int c = 0; c < 4; ++c) {
    for (int x = 0; x < 6; ++x) {
      CHECK(val(t, c, 0, x) == 0.0f);
      CHECK(val(t, c, 5, x) == 0.0f);
    }
  }
}

TEST_CASE("load_target shrinks keeping the aspect ratio", "[image_io]") {
  nca::test::TempDir dir;

  SECTION("80 x 40 at size 40 becomes 40 x 20, centred vertically") {
    const std::string path = dir.file("wide.png");
    write_rgba_png(path, 80, 40, solid(80, 40, 255, 0, 0, 255));
    const Target t = nca::load_target(path, 40, 0);
    REQUIRE(t.grid == 40);
    CHECK(t.image_width == 40);
    CHECK(t.image_height == 20);
    CHECK(t.opaque);
    const Box b = alpha_box(t);
    CHECK(b.y_min == 10);  // (40 - 20) / 2
    CHECK(b.y_max == 29);
    CHECK(b.x_min == 0);
    CHECK(b.x_max == 39);
    // A uniform colour stays that colour through the resampling filter.
    CHECK(val(t, 0, 20, 20) == Approx(1.0).margin(1e-5));
    CHECK(val(t, 1, 20, 20) == Approx(0.0).margin(1e-5));
    CHECK(val(t, 3, 10, 0) == Approx(1.0).margin(1e-5));
    CHECK(val(t, 3, 9, 0) == 0.0f);
  }

  SECTION("40 x 80 with padding becomes 20 x 40, centred horizontally") {
    const std::string path = dir.file("tall.png");
    write_rgba_png(path, 40, 80, solid(40, 80, 0, 0, 255, 200));
    const Target t = nca::load_target(path, 40, 3);
    REQUIRE(t.grid == 46);
    CHECK(t.image_width == 20);
    CHECK(t.image_height == 40);
    CHECK_FALSE(t.opaque);
    const Box b = alpha_box(t);
    CHECK(b.y_min == 3);
    CHECK(b.y_max == 42);
    CHECK(b.x_min == 13);  // (46 - 20) / 2
    CHECK(b.x_max == 32);
    CHECK(val(t, 3, 20, 20) == Approx(200.0 / 255.0).margin(1e-5));
    CHECK(val(t, 2, 20, 20) == Approx(200.0 / 255.0).margin(1e-5));
  }

  SECTION("sizes are rounded and never collapse to zero") {
    const std::string a = dir.file("a.png");
    write_rgba_png(a, 30, 10, solid(30, 10, 9, 9, 9, 255));
    const Target ta = nca::load_target(a, 8, 0);
    CHECK(ta.image_width == 8);
    CHECK(ta.image_height == 3);  // round(10 * 8 / 30) = round(2.67)

    const std::string b = dir.file("b.png");
    write_rgba_png(b, 300, 1, solid(300, 1, 9, 9, 9, 255));
    const Target tb = nca::load_target(b, 10, 0);
    CHECK(tb.image_width == 10);
    CHECK(tb.image_height == 1);
  }
}

TEST_CASE("load_target never enlarges a small image", "[image_io]") {
  nca::test::TempDir dir;
  const std::string path = dir.file("tiny.png");
  std::vector<uint8_t> px;
  for (int i = 0; i < 15; ++i) px.insert(px.end(), {static_cast<uint8_t>(i * 17), 0, 0, 255});
  write_rgba_png(path, 3, 5, px);
  const Target t = nca::load_target(path, 40, 2);
  REQUIRE(t.grid == 44);
  CHECK(t.image_width == 3);
  CHECK(t.image_height == 5);
  CHECK(t.opaque);
  const Box b = alpha_box(t);
  CHECK(b.y_min == 19);  // (44 - 5) / 2
  CHECK(b.y_max == 23);
  CHECK(b.x_min == 20);  // (44 - 3) / 2
  CHECK(b.x_max == 22);
  // Copied pixel for pixel, no resampling.
  for (int y = 0; y < 5; ++y) {
    for (int x = 0; x < 3; ++x) {
      CHECK(val(t, 0, 19 + y, 20 + x) == Approx((y * 3 + x) * 17 / 255.0).margin(1e-6));
      CHECK(val(t, 3, 19 + y, 20 + x) == 1.0f);
    }
  }
}

TEST_CASE("load_target rejects bad input with a UsageError naming the file", "[image_io]") {
  nca::test::TempDir dir;

  SECTION("missing file") {
    const std::string path = dir.file("nope.png");
    const std::string msg = message_of<nca::UsageError>([&] { nca::load_target(path, 40, 16); });
    CHECK_THAT(msg, Contains(path));
    CHECK_THAT(msg, Contains("no such file"));
  }
  SECTION("a text file named .png") {
    const std::string path = dir.file("text.png");
    std::ofstream(path) << "this is not a picture\n";
    const std::string msg = message_of<nca::UsageError>([&] { nca::load_target(path, 40, 16); });
    CHECK_THAT(msg, Contains(path));
    CHECK_THAT(msg, Contains("not an image"));
  }
  SECTION("a directory") {
    const std::string msg =
        message_of<nca::UsageError>([&] { nca::load_target(dir.path().string(), 40, 16); });
    CHECK_THAT(msg, Contains(dir.path().string()));
  }
  SECTION("fully transparent") {
    const std::string path = dir.file("clear.png");
    write_rgba_png(path, 2, 2, solid(2, 2, 200, 100, 50, 0));
    const std::string msg = message_of<nca::UsageError>([&] { nca::load_target(path, 40, 16); });
    CHECK_THAT(msg, Contains(path));
    CHECK_THAT(msg, Contains("transparent"));
  }
  SECTION("an absurdly large image is refused from its header alone") {
    const std::string path = dir.file("huge.png");
    // PNG signature, an IHDR chunk claiming 10000 x 10000 RGBA and an empty IDAT chunk (stb_image
    // 2.30 reads the header up to the first IDAT); no pixel data.
    const unsigned char header[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0,    13,
                                    'I',  'H', 'D', 'R', 0,    0,    0x27, 0x10, 0, 0, 0x27, 0x10,
                                    8,    6,   0,   0,   0,    0,    0,    0,    0, 0, 0,    0,
                                    0,    'I', 'D', 'A', 'T',  0,    0,    0,    0};
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(header), sizeof(header));
    const std::string msg = message_of<nca::UsageError>([&] { nca::load_target(path, 40, 16); });
    CHECK_THAT(msg, Contains(path));
    CHECK_THAT(msg, Contains("10000x10000"));
  }
  SECTION("size and pad out of range") {
    const std::string path = dir.file("ok.png");
    write_rgba_png(path, 2, 2, solid(2, 2, 1, 2, 3, 255));
    CHECK_THROWS_AS(nca::load_target(path, 0, 16), nca::UsageError);
    CHECK_THROWS_AS(nca::load_target(path, -5, 16), nca::UsageError);
    CHECK_THROWS_AS(nca::load_target(path, 40, -1), nca::UsageError);
    CHECK_THROWS_AS(nca::load_target(path, 2000000000, 2000000000), nca::UsageError);
    CHECK_NOTHROW(nca::load_target(path, 1, 0));
  }
}

TEST_CASE("load_target on the shipped lizard", "[image_io]") {
  const Target t = nca::load_target(nca::test::source_path("data/lizard.png"), 40, 16);
  REQUIRE(t.grid == 72);
  CHECK(t.image_width == 40);
  CHECK(t.image_height == 40);
  CHECK_FALSE(t.opaque);
  const Box b = alpha_box(t);
  CHECK(b.y_min >= 16);
  CHECK(b.y_max <= 55);
  CHECK(b.x_min >= 16);
  CHECK(b.x_max <= 55);
  CHECK(b.y_max - b.y_min >= 30);  // the lizard fills most of its square
  CHECK(b.x_max - b.x_min >= 30);
  // Valid premultiplied values: alpha in [0, 1] and colour no brighter than its alpha.
  int violations = 0;
  for (int y = 0; y < 72; ++y) {
    for (int x = 0; x < 72; ++x) {
      const float a = val(t, 3, y, x);
      if (a < 0.0f || a > 1.0f) ++violations;
      for (int c = 0; c < 3; ++c) {
        const float v = val(t, c, y, x);
        if (v < 0.0f || v > a) ++violations;
      }
    }
  }
  CHECK(violations == 0);

  const at::Tensor tt = nca::target_tensor(t);
  REQUIRE(tt.sizes() == at::IntArrayRef({4, 72, 72}));
  CHECK(tt.scalar_type() == at::kFloat);
  CHECK(tt.device().is_cpu());
  CHECK(tt[3][40][36].item<float>() == val(t, 3, 40, 36));
  CHECK(tt[1][30][20].item<float>() == val(t, 1, 30, 20));
  CHECK(tt.sum().item<double>() > 0.0);
  // A copy: changing the tensor leaves the Target alone.
  const float before = t.rgba[0];
  tt.fill_(0.5f);
  CHECK(t.rgba[0] == before);
}

TEST_CASE("render_rgb draws RGB on white", "[image_io]") {
  at::Tensor s = torch::zeros({16, 2, 2});
  // (0,0): alpha 0, no colour -> white.
  // (0,1): alpha 1, rgb (0.2, 0.4, 0.6).
  s[0][0][1] = 0.2f;
  s[1][0][1] = 0.4f;
  s[2][0][1] = 0.6f;
  s[3][0][1] = 1.0f;
  // (1,0): alpha above 1 and colour out of range clamp.
  s[0][1][0] = 0.5f;
  s[1][1][0] = -0.3f;
  s[2][1][0] = 1.5f;
  s[3][1][0] = 2.0f;
  // (1,1): alpha 0.5, premultiplied rgb (0.25, 0, 0.5) -> 1 - 0.5 + rgb.
  s[0][1][1] = 0.25f;
  s[2][1][1] = 0.5f;
  s[3][1][1] = 0.5f;
  s[7].fill_(9.0f);  // hidden channels do not matter

  const RgbImage img = nca::render_rgb(s);
  REQUIRE(img.width == 2);
  REQUIRE(img.height == 2);
  REQUIRE(img.pixels.size() == 12u);
  CHECK(pixel(img, 0, 0) == std::vector<uint8_t>{255, 255, 255});
  CHECK(pixel(img, 0, 1) == std::vector<uint8_t>{51, 102, 153});
  CHECK(pixel(img, 1, 0) == std::vector<uint8_t>{128, 0, 255});
  CHECK(pixel(img, 1, 1) == std::vector<uint8_t>{191, 128, 255});

  // A batch of one, another dtype, and exactly 4 channels give the same picture.
  CHECK(nca::render_rgb(s.unsqueeze(0)).pixels == img.pixels);
  CHECK(nca::render_rgb(s.to(torch::kFloat64)).pixels == img.pixels);
  CHECK(nca::render_rgb(s.slice(0, 0, 4)).pixels == img.pixels);

  // A non-square state keeps rows as rows.
  at::Tensor wide = torch::zeros({4, 1, 3});
  wide[3][0][2] = 1.0f;  // black, opaque, rightmost
  const RgbImage w = nca::render_rgb(wide);
  CHECK(w.width == 3);
  CHECK(w.height == 1);
  CHECK(pixel(w, 0, 2) == std::vector<uint8_t>{0, 0, 0});
  CHECK(pixel(w, 0, 0) == std::vector<uint8_t>{255, 255, 255});

  CHECK_THROWS_AS(nca::render_rgb(torch::zeros({3, 2, 2})), std::runtime_error);
  CHECK_THROWS_AS(nca::render_rgb(torch::zeros({2, 16, 2, 2})), std::runtime_error);
  CHECK_THROWS_AS(nca::render_rgb(torch::zeros({16, 2})), std::runtime_error);
}

TEST_CASE("upscale repeats pixels", "[image_io]") {
  const RgbImage img = rgb(2, 1, {1, 2, 3, 4, 5, 6});
  const RgbImage up = nca::upscale(img, 2);
  REQUIRE(up.width == 4);
  REQUIRE(up.height == 2);
  CHECK(up.pixels == std::vector<uint8_t>{1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6,  //
                                          1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6});
  CHECK(nca::upscale(img, 1).pixels == img.pixels);
  CHECK_THROWS_AS(nca::upscale(img, 0), std::runtime_error);
}

TEST_CASE("tile lays images out in rows with white gaps", "[image_io]") {
  const RgbImage a = rgb(1, 1, {10, 0, 0}), b = rgb(1, 1, {0, 20, 0}), c = rgb(1, 1, {0, 0, 30});
  const std::vector<uint8_t> white{255, 255, 255};

  const RgbImage t = nca::tile({a, b, c}, 2, 1);
  REQUIRE(t.width == 3);   // 2 columns + 1 gap
  REQUIRE(t.height == 3);  // 2 rows + 1 gap
  CHECK(pixel(t, 0, 0) == a.pixels);
  CHECK(pixel(t, 0, 1) == white);
  CHECK(pixel(t, 0, 2) == b.pixels);
  for (int x = 0; x < 3; ++x) CHECK(pixel(t, 1, x) == white);
  CHECK(pixel(t, 2, 0) == c.pixels);
  CHECK(pixel(t, 2, 2) == white);  // the empty slot

  const RgbImage row = nca::tile({a, b, c}, 5);  // more columns than images, no gap
  REQUIRE(row.width == 3);
  REQUIRE(row.height == 1);
  CHECK(row.pixels == std::vector<uint8_t>{10, 0, 0, 0, 20, 0, 0, 0, 30});

  const RgbImage two_by_one = rgb(2, 1, {1, 1, 1, 2, 2, 2});
  const RgbImage col = nca::tile({two_by_one, two_by_one}, 1, 2);
  CHECK(col.width == 2);
  CHECK(col.height == 4);
  CHECK(pixel(col, 3, 1) == std::vector<uint8_t>{2, 2, 2});
  CHECK(pixel(col, 1, 0) == white);

  CHECK_THROWS_AS(nca::tile({a, two_by_one}, 2), std::runtime_error);
  CHECK_THROWS_AS(nca::tile({}, 2), std::runtime_error);
  CHECK_THROWS_AS(nca::tile({a}, 0), std::runtime_error);
}

TEST_CASE("tile paints its gaps in the colour it is given", "[image_io]") {
  // White gaps vanish against the white around a grown shape: pictures ask for a grey.
  const RgbImage a = rgb(1, 1, {10, 0, 0}), b = rgb(1, 1, {0, 20, 0}), c = rgb(1, 1, {0, 0, 30});
  const std::vector<uint8_t> grey{200, 200, 200};
  const RgbImage t = nca::tile({a, b, c}, 2, 1, nca::kCellGap);
  REQUIRE(t.width == 3);
  REQUIRE(t.height == 3);
  CHECK(pixel(t, 0, 0) == a.pixels);
  CHECK(pixel(t, 0, 1) == grey);
  CHECK(pixel(t, 0, 2) == b.pixels);
  for (int x = 0; x < 3; ++x) CHECK(pixel(t, 1, x) == grey);
  CHECK(pixel(t, 2, 0) == c.pixels);
  CHECK(pixel(t, 2, 1) == grey);
  CHECK(pixel(t, 2, 2) == grey);  // the empty slot too: the grid stays regular
  CHECK(nca::tile({a, b}, 2, 1, {1, 2, 3}).pixels ==
        std::vector<uint8_t>{10, 0, 0, 1, 2, 3, 0, 20, 0});
}

TEST_CASE("save_png and load_rgb round-trip", "[image_io]") {
  nca::test::TempDir dir;
  const std::string path = dir.file("frame.png");
  const RgbImage img =
      rgb(3, 2, {0, 1, 2, 3, 4, 5, 250, 251, 252, 255, 0, 128, 7, 77, 177, 9, 8, 7});
  nca::save_png(path, img);
  const RgbImage back = nca::load_rgb(path);
  CHECK(back.width == 3);
  CHECK(back.height == 2);
  CHECK(back.pixels == img.pixels);

  // Overwriting replaces the file.
  const RgbImage other = rgb(1, 1, {1, 2, 3});
  nca::save_png(path, other);
  CHECK(nca::load_rgb(path).pixels == other.pixels);

  const std::string missing = dir.file("missing.png");
  CHECK_THAT(message_of<std::runtime_error>([&] { nca::load_rgb(missing); }), Contains(missing));
  const std::string unwritable = dir.file("no/such/folder/x.png");
  CHECK_THAT(message_of<std::runtime_error>([&] { nca::save_png(unwritable, img); }),
             Contains("x.png"));
  CHECK_THROWS_AS(nca::save_png(dir.file("bad.png"), rgb(2, 2, {1, 2, 3})), std::runtime_error);
}

TEST_CASE("GifWriter writes an animated GIF that giflib reads back", "[image_io]") {
  nca::test::TempDir dir;
  const std::string path = dir.file("anim.gif");
  const int w = 7, h = 3, n = 5;
  {
    nca::GifWriter gif(path, w, h, 5);
    for (int k = 0; k < n; ++k) {
      RgbImage f = rgb(w, h, std::vector<uint8_t>(w * h * 3, 255));  // frame 0 is plain white
      for (int i = 0; i < k * 4 && i < w * h; ++i) {
        f.pixels[3 * i] = static_cast<uint8_t>(40 * k);
        f.pixels[3 * i + 1] = static_cast<uint8_t>(i * 11);
      }
      gif.add_frame(f);
    }
    CHECK(gif.frames() == n);

    const std::string msg = message_of<std::runtime_error>(
        [&] { gif.add_frame(rgb(w + 1, h, std::vector<uint8_t>((w + 1) * h * 3, 0))); });
    CHECK_THAT(msg, Contains(path));
    CHECK_THAT(msg, Contains("7x3"));
    CHECK(gif.frames() == n);
    gif.close();
  }
  const nca::GifInfo info = nca::read_gif_info(path);
  CHECK(info.width == w);
  CHECK(info.height == h);
  CHECK(info.frames == n);

  const std::string bytes = slurp(path);
  CHECK(bytes.substr(0, 6) == "GIF89a");
  CHECK(bytes.find("NETSCAPE2.0") != std::string::npos);
  CHECK(bytes.back() == ';');

  // stb_image decodes the first frame, which was plain white: the palette keeps it exact.
  const RgbImage first = nca::load_rgb(path);
  CHECK(first.width == w);
  CHECK(first.height == h);
  CHECK(first.pixels == std::vector<uint8_t>(w * h * 3, 255));
}

TEST_CASE("GifWriter finishes the file in its destructor", "[image_io]") {
  nca::test::TempDir dir;
  const std::string path = dir.file("unclosed.gif");
  {
    nca::GifWriter gif(path, 4, 4);
    gif.add_frame(rgb(4, 4, std::vector<uint8_t>(48, 30)));
    gif.add_frame(rgb(4, 4, std::vector<uint8_t>(48, 200)));
  }
  const nca::GifInfo info = nca::read_gif_info(path);
  CHECK(info.width == 4);
  CHECK(info.height == 4);
  CHECK(info.frames == 2);
}

TEST_CASE("GIF errors name the file", "[image_io]") {
  nca::test::TempDir dir;
  const std::string missing = dir.file("missing.gif");
  CHECK_THAT(message_of<std::runtime_error>([&] { nca::read_gif_info(missing); }),
             Contains(missing));
  const std::string text = dir.file("text.gif");
  std::ofstream(text) << "not a gif";
  CHECK_THAT(message_of<std::runtime_error>([&] { nca::read_gif_info(text); }), Contains(text));
  const std::string nowhere = dir.file("no/such/folder/x.gif");
  CHECK_THAT(message_of<std::runtime_error>([&] { nca::GifWriter(nowhere, 4, 4); }),
             Contains(nowhere));
  CHECK_THROWS_AS(nca::GifWriter(dir.file("zero.gif"), 0, 4), std::runtime_error);
}

TEST_CASE("load_target_from_memory reads what load_target reads, in the documented formats only",
          "[image_io]") {
  nca::test::TempDir dir;
  const auto px = solid(3, 2, 250, 10, 20, 255);
  auto read_bytes = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  auto same = [](const Target& a, const Target& b) {
    return a.grid == b.grid && a.image_width == b.image_width && a.rgba == b.rgba;
  };

  write_rgba_png(dir.file("a.png"), 3, 2, px);
  const std::string png = read_bytes(dir.file("a.png"));
  const Target from_file = nca::load_target(dir.file("a.png"), 8, 1);
  CHECK(same(nca::load_target_from_memory(png.data(), png.size(), 8, 1, "a.png"), from_file));

  // BMP, TGA and GIF decode to the same pixels (the GIF through a palette of this one colour).
  REQUIRE(stbi_write_bmp(dir.file("a.bmp").c_str(), 3, 2, 4, px.data()));
  REQUIRE(stbi_write_tga(dir.file("a.tga").c_str(), 3, 2, 4, px.data()));
  CHECK(same(nca::load_target(dir.file("a.bmp"), 8, 1), from_file));
  CHECK(same(nca::load_target(dir.file("a.tga"), 8, 1), from_file));
  {
    nca::GifWriter gif(dir.file("a.gif"), 3, 2);
    RgbImage frame{3, 2, std::vector<uint8_t>(18)};
    for (size_t i = 0; i < 6; ++i)
      frame.pixels[3 * i] = 250, frame.pixels[3 * i + 1] = 10, frame.pixels[3 * i + 2] = 20;
    gif.add_frame(frame);
  }
  CHECK(nca::load_target(dir.file("a.gif"), 8, 1).opaque);

  // Formats stb_image knows but nca leaves out (smaller attack surface): refused as not images.
  const std::string pnm = "P6\n2 2\n255\n" + std::string(12, '\x7f');
  CHECK_THROWS_WITH(nca::load_target_from_memory(pnm.data(), pnm.size(), 8, 1, "a.ppm"),
                    Contains("not an image"));
  const std::string hdr = "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 1\n" + std::string(4, 1);
  CHECK_THROWS_WITH(nca::load_target_from_memory(hdr.data(), hdr.size(), 8, 1, "a.hdr"),
                    Contains("not an image"));
  // JPEG: refused by name (no transparency; Debian's stb_image 2.27 JPEG decoder is unsafe).
  const std::string jpeg = "\xFF\xD8\xFF\xE0" + std::string(16, '\0');
  CHECK_THROWS_WITH(nca::load_target_from_memory(jpeg.data(), jpeg.size(), 8, 1, "a.jpg"),
                    Contains("'a.jpg': JPEG is not supported"));
  CHECK_THROWS_WITH(nca::load_target_from_memory("", 0, 8, 1, "empty.png"),
                    Contains("'empty.png': the file is empty"));
}
