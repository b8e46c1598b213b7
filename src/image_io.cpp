// Images in and out (docs/design.md §1–2): the training target read with stb_image, shrunk and
// alpha-premultiplied; states rendered on white; PNG frames with stb_image_write; animated GIFs
// encoded with giflib. Every file is written through write_bytes_atomically, so a crash never
// leaves half an image behind.
#include "nca/image_io.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <system_error>

#include <gif_lib.h>
#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>
#include <torch/torch.h>

#include "nca/atomic_file.h"
#include "nca/errors.h"
#include "nca/limits.h"

namespace nca {
namespace {

// Limits that keep every size computation below far inside size_t and int, and refuse inputs
// that would only exhaust memory and time: at most 4096 pixels a side (256 MiB as floats, a few
// seconds to shrink). Fuzzing found a 94-byte RLE TGA that claims 1029 x 31232 pixels, which
// took 6 s and 780 MB under the earlier limit of 2^26 pixels in all, and then an 84-byte GIF
// of 65283 x 250 (under 2^24 pixels), whose shrinking took 3 s, 28 s under the sanitizers: the
// cost grows with the longer side as well as with the pixel count.
constexpr int kMaxSourceSide = static_cast<int>(limits::kMaxImageSide);
constexpr int kMaxImageGrid = static_cast<int>(limits::kMaxGridSide);
// stb_image takes an int length; no image nca accepts needs a file anywhere near this.
constexpr size_t kMaxFileBytes = size_t{1} << 30;

struct StbiFree {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};
using StbiPixels = std::unique_ptr<stbi_uc, StbiFree>;

std::string stbi_reason() {
  const char* r = stbi_failure_reason();
  return r && *r ? r : "no reason given";  // stb does not set one on every path
}

std::string gif_error(int code) {
  const char* s = GifErrorString(code);
  return s ? s : ("giflib error " + std::to_string(code));
}

void check_image(const RgbImage& img, const char* what) {
  if (img.width <= 0 || img.height <= 0 ||
      img.pixels.size() != static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 3) {
    throw std::runtime_error(std::string(what) + ": invalid image (" + std::to_string(img.width) +
                             "x" + std::to_string(img.height) + " with " +
                             std::to_string(img.pixels.size()) + " bytes)");
  }
}

// Premultiplied values are filtered linearly, and the resampling kernel can ring slightly
// outside the valid range: keep alpha in [0,1] and colour within alpha so the target stays a
// valid premultiplied image.
void clamp_premultiplied(std::vector<float>& px) {
  for (size_t i = 0; i + 3 < px.size(); i += 4) {
    float a = std::clamp(px[i + 3], 0.0f, 1.0f);
    px[i + 3] = a;
    for (size_t c = 0; c < 3; ++c) px[i + c] = std::clamp(px[i + c], 0.0f, a);
  }
}

// Refuses sizes that would overflow the grid arithmetic, before anything is read.
void check_target_size(const std::string& what, int size, int pad) {
  if (size <= 0)
    throw UsageError(what + ": size must be positive (got " + std::to_string(size) + ")");
  if (pad < 0)
    throw UsageError(what + ": pad must not be negative (got " + std::to_string(pad) + ")");
  const long long grid_ll = static_cast<long long>(size) + 2LL * pad;
  if (grid_ll > kMaxImageGrid) {
    throw UsageError(what + ": size + 2 * pad = " + std::to_string(grid_ll) + " exceeds " +
                     std::to_string(kMaxImageGrid));
  }
}

}  // namespace

Target load_target(const std::string& path, int size, int pad) {
  const std::string what = "cannot read target image " + in_quotes(path);
  check_target_size(what, size, pad);
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(st)) throw UsageError(what + ": no such file");
  if (std::filesystem::is_directory(st)) throw UsageError(what + ": is a directory");
  std::string bytes;
  try {
    bytes = read_file(path, kMaxFileBytes);
  } catch (const std::runtime_error& e) {
    // read_file says "cannot read 'PATH': REASON"; keep the reason.
    const std::string msg = e.what(), prefix = "cannot read " + in_quotes(path) + ": ";
    throw UsageError(what + ": " + (msg.rfind(prefix, 0) == 0 ? msg.substr(prefix.size()) : msg));
  }
  return load_target_from_memory(bytes.data(), bytes.size(), size, pad, path);
}

Target load_target_from_memory(const void* data, size_t bytes, int size, int pad,
                               const std::string& name) {
  const std::string what = "cannot read target image " + in_quotes(name);
  check_target_size(what, size, pad);
  const long long grid_ll = static_cast<long long>(size) + 2LL * pad;
  if (bytes == 0) throw UsageError(what + ": the file is empty");
  if (bytes > kMaxFileBytes)
    throw UsageError(what + ": larger than " + std::to_string(kMaxFileBytes) + " bytes");
  const auto* buf = static_cast<const stbi_uc*>(data);
  const int len = static_cast<int>(bytes);

  // Ask for the dimensions first so that an absurd image is refused before it is decoded.
  int w = 0, h = 0, channels = 0;
  if (bytes >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF)
    throw UsageError(what +
                     ": JPEG is not supported (it cannot hold the transparency a target needs); "
                     "save the image as a PNG with an alpha channel");
  if (!stbi_info_from_memory(buf, len, &w, &h, &channels))
    throw UsageError(what + ": not an image (stb_image: " + stbi_reason() + ")");
  if (w <= 0 || h <= 0 || w > kMaxSourceSide || h > kMaxSourceSide) {
    throw UsageError(what + ": image too large (" + std::to_string(w) + "x" + std::to_string(h) +
                     " pixels, at most " + std::to_string(kMaxSourceSide) + " a side)");
  }
  StbiPixels src(stbi_load_from_memory(buf, len, &w, &h, &channels, 4));
  if (!src) throw UsageError(what + ": cannot decode the image (stb_image: " + stbi_reason() + ")");

  const size_t n_src = static_cast<size_t>(w) * static_cast<size_t>(h);
  const stbi_uc* p = src.get();
  bool opaque = true, any_visible = false;
  std::vector<float> premult(n_src * 4);
  for (size_t i = 0; i < n_src; ++i) {
    const stbi_uc a8 = p[4 * i + 3];
    opaque = opaque && a8 == 255;
    any_visible = any_visible || a8 != 0;
    const float a = a8 / 255.0f;
    for (size_t c = 0; c < 3; ++c) premult[4 * i + c] = p[4 * i + c] / 255.0f * a;
    premult[4 * i + 3] = a;
  }
  src.reset();
  if (!any_visible) throw UsageError(what + ": the image is fully transparent");

  const double s = std::min({static_cast<double>(size) / w, static_cast<double>(size) / h, 1.0});
  const int nw = std::max(1, static_cast<int>(std::lround(w * s)));
  const int nh = std::max(1, static_cast<int>(std::lround(h * s)));
  std::vector<float> img;
  if (nw == w && nh == h) {
    img = std::move(premult);
  } else {
    img.resize(static_cast<size_t>(nw) * nh * 4);
    // Plain float resize: no alpha handling, because premultiplied data filters linearly.
    if (!stbir_resize_float(premult.data(), w, h, 0, img.data(), nw, nh, 0, 4)) {
      throw std::runtime_error(what + ": stb_image_resize failed to shrink " + std::to_string(w) +
                               "x" + std::to_string(h) + " to " + std::to_string(nw) + "x" +
                               std::to_string(nh));
    }
    clamp_premultiplied(img);
  }

  Target t;
  t.grid = static_cast<int>(grid_ll);
  t.image_width = nw;
  t.image_height = nh;
  t.source_width = w;
  t.source_height = h;
  t.opaque = opaque;
  const size_t g = static_cast<size_t>(t.grid);
  t.rgba.assign(4 * g * g, 0.0f);
  const size_t y0 = (g - nh) / 2, x0 = (g - nw) / 2;
  bool visible_after = false;
  for (size_t y = 0; y < static_cast<size_t>(nh); ++y) {
    for (size_t x = 0; x < static_cast<size_t>(nw); ++x) {
      const float* px = &img[(y * nw + x) * 4];
      for (size_t c = 0; c < 4; ++c) t.rgba[c * g * g + (y0 + y) * g + (x0 + x)] = px[c];
      visible_after = visible_after || px[3] > 0.0f;
    }
  }
  if (!visible_after) {
    throw UsageError(what + ": nothing visible is left after shrinking it to " +
                     std::to_string(nw) + "x" + std::to_string(nh));
  }
  return t;
}

at::Tensor target_tensor(const Target& t) {
  const int64_t g = t.grid;
  if (g <= 0 || t.rgba.size() != static_cast<size_t>(4 * g * g)) {
    throw std::runtime_error("target_tensor: Target holds " + std::to_string(t.rgba.size()) +
                             " values, not 4 x " + std::to_string(g) + " x " + std::to_string(g));
  }
  // from_blob borrows the vector's memory; clone() gives the tensor its own copy.
  return torch::from_blob(const_cast<float*>(t.rgba.data()), {4, g, g},
                          torch::TensorOptions().dtype(torch::kFloat32))
      .clone();
}

RgbImage render_rgb(const at::Tensor& state) {
  at::Tensor s = state.detach();
  if (s.dim() == 4 && s.size(0) == 1) s = s.squeeze(0);
  if (s.dim() != 3 || s.size(0) < 4 || s.size(1) <= 0 || s.size(2) <= 0) {
    throw std::runtime_error(
        "render_rgb: expected a C x H x W or 1 x C x H x W state with C >= 4, got " +
        c10::str(state.sizes()));
  }
  s = s.slice(0, 0, 4).to(torch::kCPU, torch::kFloat32).contiguous();
  const int h = static_cast<int>(s.size(1)), w = static_cast<int>(s.size(2));
  const size_t plane = static_cast<size_t>(h) * w;
  const float* d = s.data_ptr<float>();

  RgbImage out;
  out.width = w;
  out.height = h;
  out.pixels.resize(plane * 3);
  for (size_t i = 0; i < plane; ++i) {
    float a = d[3 * plane + i];
    // Written so that NaN lands on 0 instead of reaching the float-to-int conversion.
    a = a > 0.0f ? std::min(a, 1.0f) : 0.0f;
    for (size_t c = 0; c < 3; ++c) {
      float v = 1.0f - a + d[c * plane + i];
      v = v > 0.0f ? std::min(v, 1.0f) : 0.0f;
      out.pixels[3 * i + c] = static_cast<uint8_t>(std::lround(v * 255.0f));
    }
  }
  return out;
}

RgbImage upscale(const RgbImage& img, int scale) {
  check_image(img, "upscale");
  if (scale < 1)
    throw std::runtime_error("upscale: scale must be at least 1, got " + std::to_string(scale));
  if (static_cast<long long>(img.width) * scale > 65535 ||
      static_cast<long long>(img.height) * scale > 65535) {
    throw std::runtime_error("upscale: " + std::to_string(img.width) + "x" +
                             std::to_string(img.height) + " times " + std::to_string(scale) +
                             " is too large");
  }
  RgbImage out;
  out.width = img.width * scale;
  out.height = img.height * scale;
  out.pixels.resize(static_cast<size_t>(out.width) * out.height * 3);
  for (int y = 0; y < out.height; ++y) {
    const uint8_t* src_row = &img.pixels[static_cast<size_t>(y / scale) * img.width * 3];
    uint8_t* dst = &out.pixels[static_cast<size_t>(y) * out.width * 3];
    for (int x = 0; x < out.width; ++x) {
      const uint8_t* sp = src_row + static_cast<size_t>(x / scale) * 3;
      std::copy(sp, sp + 3, dst + static_cast<size_t>(x) * 3);
    }
  }
  return out;
}

RgbImage tile(const std::vector<RgbImage>& images, int columns, int gap, const Rgb& gap_colour) {
  if (images.empty()) throw std::runtime_error("tile: no images");
  if (columns < 1)
    throw std::runtime_error("tile: columns must be at least 1, got " + std::to_string(columns));
  if (gap < 0)
    throw std::runtime_error("tile: gap must not be negative, got " + std::to_string(gap));
  const int w = images[0].width, h = images[0].height;
  for (const RgbImage& im : images) {
    check_image(im, "tile");
    if (im.width != w || im.height != h) {
      throw std::runtime_error("tile: images differ in size (" + std::to_string(w) + "x" +
                               std::to_string(h) + " and " + std::to_string(im.width) + "x" +
                               std::to_string(im.height) + ")");
    }
  }
  const long long n = static_cast<long long>(images.size());
  const long long cols = std::min<long long>(columns, n);
  const long long rows = (n + cols - 1) / cols;
  const long long out_w = cols * w + (cols - 1) * gap, out_h = rows * h + (rows - 1) * gap;
  if (out_w > 65535 || out_h > 65535) {
    throw std::runtime_error("tile: the result (" + std::to_string(out_w) + "x" +
                             std::to_string(out_h) + ") is too large");
  }
  RgbImage out;
  out.width = static_cast<int>(out_w);
  out.height = static_cast<int>(out_h);
  out.pixels.resize(static_cast<size_t>(out_w) * out_h * 3);
  for (size_t i = 0; i < out.pixels.size(); i += 3)
    std::copy(gap_colour.begin(), gap_colour.end(), &out.pixels[i]);
  for (size_t k = 0; k < images.size(); ++k) {
    const size_t ox = (k % cols) * (w + gap), oy = (k / cols) * (h + gap);
    for (int y = 0; y < h; ++y) {
      const uint8_t* src = &images[k].pixels[static_cast<size_t>(y) * w * 3];
      std::copy(src, src + static_cast<size_t>(w) * 3,
                &out.pixels[((oy + y) * out.width + ox) * 3]);
    }
  }
  return out;
}

void save_png(const std::string& path, const RgbImage& img) {
  const std::string what = "cannot write PNG " + in_quotes(path);
  check_image(img, what.c_str());
  write_bytes_atomically(path, [&](ByteSink& out) {
    auto to_sink = [](void* context, void* data, int size) {
      static_cast<ByteSink*>(context)->write(data, static_cast<size_t>(size));
    };
    if (!stbi_write_png_to_func(to_sink, &out, img.width, img.height, 3, img.pixels.data(),
                                img.width * 3)) {
      throw std::runtime_error("stb_image_write failed to encode it");
    }
  });
}

RgbImage load_rgb(const std::string& path) {
  int w = 0, h = 0, channels = 0;
  StbiPixels px(stbi_load(path.c_str(), &w, &h, &channels, 3));
  if (!px)
    throw std::runtime_error("cannot read image " + in_quotes(path) +
                             ": stb_image: " + stbi_reason());
  RgbImage out;
  out.width = w;
  out.height = h;
  out.pixels.assign(px.get(), px.get() + static_cast<size_t>(w) * h * 3);
  return out;
}

// ---- GIF -----------------------------------------------------------------------------------

namespace {

// The encoder writes into memory and close() hands the bytes to write_bytes_atomically, so the GIF
// is streamed (frames are compressed as they arrive) and still never half-written on disk.
struct GifSink {
  std::vector<uint8_t> bytes;
  bool failed = false;
};

int gif_sink_write(GifFileType* gif, const GifByteType* buf, int len) {
  auto* sink = static_cast<GifSink*>(gif->UserData);
  // No exception may cross giflib's C frames: report a short write instead.
  try {
    sink->bytes.insert(sink->bytes.end(), buf, buf + len);
    return len;
  } catch (...) {
    sink->failed = true;
    return 0;
  }
}

struct GifMapFree {
  void operator()(ColorMapObject* m) const { GifFreeMapObject(m); }
};

struct GifDecoderClose {
  void operator()(GifFileType* g) const {
    int err = 0;
    DGifCloseFile(g, &err);
  }
};

}  // namespace

struct GifWriter::State {
  std::string path;
  int width = 0;
  int height = 0;
  int delay_cs = 0;
  int frames = 0;
  bool closed = false;
  GifSink sink;
  GifFileType* gif = nullptr;

  ~State() {
    if (gif) {
      int err = 0;
      EGifCloseFile(gif, &err);
    }
  }

  [[noreturn]] void fail(const std::string& during) const {
    std::string reason = sink.failed ? "out of memory" : gif_error(gif ? gif->Error : 0);
    throw std::runtime_error("cannot write GIF " + in_quotes(path) + ": " + during +
                             ": giflib: " + reason);
  }
};

GifWriter::GifWriter(const std::string& path, int width, int height, int delay_cs)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.path = path;
  s.width = width;
  s.height = height;
  s.delay_cs = delay_cs;
  const std::string what = "cannot write GIF " + in_quotes(path);
  if (width < 1 || width > 65535 || height < 1 || height > 65535) {
    throw std::runtime_error(what + ": invalid size " + std::to_string(width) + "x" +
                             std::to_string(height));
  }
  if (delay_cs < 0 || delay_cs > 65535) {
    throw std::runtime_error(what + ": invalid frame delay " + std::to_string(delay_cs));
  }
  // Fail now rather than after a long rollout when the folder is missing.
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    throw std::runtime_error(what + ": folder '" + parent.string() + "' does not exist");
  }

  int err = 0;
  s.gif = EGifOpen(&s.sink, gif_sink_write, &err);
  if (!s.gif) throw std::runtime_error(what + ": giflib: " + gif_error(err));
  EGifSetGifVersion(s.gif, true);
  if (EGifPutScreenDesc(s.gif, width, height, 8, 0, nullptr) == GIF_ERROR)
    s.fail("screen descriptor");
  // NETSCAPE2.0 application extension: loop count 0 = loop forever.
  static const GifByteType kAppId[] = {'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0'};
  static const GifByteType kLoop[] = {1, 0, 0};
  if (EGifPutExtensionLeader(s.gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
      EGifPutExtensionBlock(s.gif, sizeof(kAppId), kAppId) == GIF_ERROR ||
      EGifPutExtensionBlock(s.gif, sizeof(kLoop), kLoop) == GIF_ERROR ||
      EGifPutExtensionTrailer(s.gif) == GIF_ERROR) {
    s.fail("loop extension");
  }
}

GifWriter::~GifWriter() {
  if (state_ && !state_->closed) {
    try {
      close();
    } catch (...) {
      // A destructor must not throw; close() already left no partial file behind.
    }
  }
}

void GifWriter::add_frame(const RgbImage& frame) {
  State& s = *state_;
  const std::string what = "cannot write GIF " + in_quotes(s.path);
  if (s.closed) throw std::runtime_error(what + ": add_frame after close");
  check_image(frame, what.c_str());
  if (frame.width != s.width || frame.height != s.height) {
    throw std::runtime_error(what + ": frame is " + std::to_string(frame.width) + "x" +
                             std::to_string(frame.height) + ", expected " +
                             std::to_string(s.width) + "x" + std::to_string(s.height));
  }

  const size_t n = static_cast<size_t>(s.width) * s.height;
  std::vector<GifByteType> r(n), g(n), b(n), indices(n);
  for (size_t i = 0; i < n; ++i) {
    r[i] = frame.pixels[3 * i];
    g[i] = frame.pixels[3 * i + 1];
    b[i] = frame.pixels[3 * i + 2];
  }
  GifColorType colors[256] = {};
  int n_colors = 256;
  if (GifQuantizeBuffer(static_cast<unsigned>(s.width), static_cast<unsigned>(s.height), &n_colors,
                        r.data(), g.data(), b.data(), indices.data(), colors) == GIF_ERROR) {
    throw std::runtime_error(what + ": colour quantisation failed");
  }
  // giflib builds its palette from 5-bit channels, which turns white into (248, 248, 248).
  // Each entry becomes the mean of the 8-bit pixels mapped to it instead: a white background
  // stays white, and every colour is the closest the partition allows.
  {
    uint64_t sum[256][3] = {};
    uint64_t count[256] = {};
    for (size_t i = 0; i < n; ++i) {
      const GifByteType k = indices[i];
      sum[k][0] += r[i];
      sum[k][1] += g[i];
      sum[k][2] += b[i];
      ++count[k];
    }
    for (int k = 0; k < 256; ++k) {
      if (count[k] == 0) continue;
      colors[k].Red = static_cast<GifByteType>((sum[k][0] + count[k] / 2) / count[k]);
      colors[k].Green = static_cast<GifByteType>((sum[k][1] + count[k] / 2) / count[k]);
      colors[k].Blue = static_cast<GifByteType>((sum[k][2] + count[k] / 2) / count[k]);
    }
  }
  // A GIF colour table has a power-of-two size; unused entries are the zeroed tail of `colors`.
  n_colors = std::clamp(n_colors, 2, 256);
  std::unique_ptr<ColorMapObject, GifMapFree> map(
      GifMakeMapObject(1 << GifBitSize(n_colors), colors));
  if (!map) throw std::runtime_error(what + ": out of memory for a colour map");

  GraphicsControlBlock gcb{};
  gcb.DisposalMode = DISPOSE_DO_NOT;
  gcb.UserInputFlag = false;
  gcb.DelayTime = s.delay_cs;
  gcb.TransparentColor = NO_TRANSPARENT_COLOR;
  GifByteType ext[4];
  const size_t ext_len = EGifGCBToExtension(&gcb, ext);
  if (EGifPutExtension(s.gif, GRAPHICS_EXT_FUNC_CODE, static_cast<int>(ext_len), ext) ==
      GIF_ERROR) {
    s.fail("graphics control extension");
  }
  if (EGifPutImageDesc(s.gif, 0, 0, s.width, s.height, false, map.get()) == GIF_ERROR) {
    s.fail("image descriptor");
  }
  for (int y = 0; y < s.height; ++y) {
    if (EGifPutLine(s.gif, &indices[static_cast<size_t>(y) * s.width], s.width) == GIF_ERROR) {
      s.fail("frame " + std::to_string(s.frames));
    }
  }
  ++s.frames;
}

void GifWriter::close() {
  State& s = *state_;
  if (s.closed) return;
  s.closed = true;
  const std::string what = "cannot write GIF " + in_quotes(s.path);
  int err = 0;
  GifFileType* gif = s.gif;
  s.gif = nullptr;  // EGifCloseFile frees it whatever it returns
  if (EGifCloseFile(gif, &err) == GIF_ERROR)
    throw std::runtime_error(what + ": giflib: " + gif_error(err));
  if (s.sink.failed) throw std::runtime_error(what + ": out of memory");
  if (s.frames == 0) throw std::runtime_error(what + ": no frames were added");
  std::vector<uint8_t> bytes = std::move(s.sink.bytes);
  write_bytes_atomically(s.path, [&](ByteSink& out) { out.write(bytes.data(), bytes.size()); });
}

int GifWriter::frames() const { return state_->frames; }

GifInfo read_gif_info(const std::string& path) {
  const std::string what = "cannot read GIF " + in_quotes(path);
  int err = 0;
  std::unique_ptr<GifFileType, GifDecoderClose> gif(DGifOpenFileName(path.c_str(), &err));
  if (!gif) throw std::runtime_error(what + ": giflib: " + gif_error(err));
  if (DGifSlurp(gif.get()) == GIF_ERROR)
    throw std::runtime_error(what + ": giflib: " + gif_error(gif->Error));
  GifInfo info;
  info.width = gif->SWidth;
  info.height = gif->SHeight;
  info.frames = gif->ImageCount;
  return info;
}

}  // namespace nca
