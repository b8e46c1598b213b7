// Images in and out: the training target (stb_image), PNG frames (stb_image_write), animated
// GIFs (giflib), and rendering a state as RGB on white (docs/design.md §1).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace at {
class Tensor;
}

namespace nca {

// 8-bit RGB, row-major, 3 bytes a pixel.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // width * height * 3
};

struct Target {
  int grid = 0;         // side of the square grid the target sits in
  int image_width = 0;  // the image after shrinking, before padding
  int image_height = 0;
  int source_width = 0;  // the image file's own size
  int source_height = 0;
  bool opaque = false;      // no transparent pixel: the target is the whole square
  std::vector<float> rgba;  // 4 x grid x grid, channel-major, alpha-premultiplied, in [0,1]
};

// Reads an image (PNG, BMP, TGA or GIF's first frame), converts it to RGBA, shrinks it to fit
// size x size keeping its aspect ratio (never enlarges), premultiplies alpha and centres it in
// a grid of size + 2 * pad. Throws UsageError naming the file and the reason when it cannot be
// read or is fully transparent.
Target load_target(const std::string& path, int size, int pad);

// load_target on an image file held in memory (load_target reads the file and calls this);
// `name` stands for the file in messages.
Target load_target_from_memory(const void* data, size_t bytes, int size, int pad,
                               const std::string& name);

// 4 x grid x grid float tensor of a Target.
at::Tensor target_tensor(const Target& t);

// RGB on white: clamp(1 - a + rgb, 0, 1) with a = clamp(alpha, 0, 1). `state` is C x H x W or
// 1 x C x H x W (C >= 4) on any device.
RgbImage render_rgb(const at::Tensor& state);

// Nearest-neighbour upscaling: crisp pixels.
RgbImage upscale(const RgbImage& img, int scale);

// An RGB colour.
using Rgb = std::array<uint8_t, 3>;

// The gap between the cells of the pool and batch pictures: a light grey, since the space around
// a grown shape is white and white gaps would let neighbouring shapes run together.
constexpr Rgb kCellGap{200, 200, 200};

// Images of equal size laid out left to right, top to bottom in `columns` columns, with
// `gap` pixels of `gap_colour` between them (empty slots of the last row get that colour too).
RgbImage tile(const std::vector<RgbImage>& images, int columns, int gap = 0,
              const Rgb& gap_colour = {255, 255, 255});

// Writes a PNG atomically; throws std::runtime_error naming the path on failure.
void save_png(const std::string& path, const RgbImage& img);

// Reads a PNG (or any stb_image format) as RGB; throws std::runtime_error on failure.
RgbImage load_rgb(const std::string& path);

// An animated GIF written frame by frame with giflib; each frame gets its own palette.
class GifWriter {
 public:
  // delay_cs: time per frame in hundredths of a second. Throws std::runtime_error.
  GifWriter(const std::string& path, int width, int height, int delay_cs = 4);
  ~GifWriter();  // closes if close() was not called (errors are swallowed there)
  GifWriter(const GifWriter&) = delete;
  GifWriter& operator=(const GifWriter&) = delete;

  void add_frame(const RgbImage& frame);  // must be width x height
  void close();                           // writes the file; throws on failure
  int frames() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

struct GifInfo {
  int width = 0;
  int height = 0;
  int frames = 0;
};
// Decodes a GIF with giflib and reports its size and frame count; throws on failure.
GifInfo read_gif_info(const std::string& path);

}  // namespace nca
