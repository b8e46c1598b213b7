// Test-only probe for the command-line tests: reports image and GIF sizes as the library's own
// decoders (stb_image, giflib, FFmpeg) read them, so shell tests need no image tools.
//   nca_probe png FILE   ->  WIDTH HEIGHT
//   nca_probe gif FILE   ->  WIDTH HEIGHT FRAMES
//   nca_probe video FILE ->  WIDTH HEIGHT FRAMES CODEC (every frame decoded by libavcodec)
//   nca_probe model FILE ->  ITERATION (after loading the whole checkpoint, every tensor checked)
//   nca_probe pool FILE  ->  ITERATION finite (the pool.pt beside a model.pt, loaded as --resume
//                            loads it: a pool that is not finite is refused)
//   nca_probe make-png WxH FILE  writes a WxH RGBA PNG (a disc on transparency), for tests that
//                                need an image too large to keep in the repository
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <stb/stb_image_write.h>
#include <torch/torch.h>

#include "nca/checkpoint.h"
#include "nca/image_io.h"
#include "nca/pool_file.h"
#include "nca/video.h"

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "make-png") == 0) {
    int w = 0, h = 0;
    if (std::sscanf(argv[2], "%dx%d", &w, &h) != 2 || w < 1 || h < 1) return 2;
    std::vector<unsigned char> px(static_cast<size_t>(w) * h * 4, 0);
    const double cx = w / 2.0, cy = h / 2.0, r2 = 0.16 * w * h;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < r2) {
          unsigned char* p = &px[(static_cast<size_t>(y) * w + x) * 4];
          p[0] = 200, p[1] = 60, p[2] = 40, p[3] = 255;
        }
    stbi_write_png_compression_level = 1;  // fast: the test only needs a valid file
    return stbi_write_png(argv[3], w, h, 4, px.data(), w * 4) ? 0 : 1;
  }
  if (argc != 3) {
    std::cerr << "usage: nca_probe png|gif|video|model|pool FILE, nca_probe make-png WxH FILE\n";
    return 2;
  }
  try {
    if (std::strcmp(argv[1], "png") == 0) {
      const auto img = nca::load_rgb(argv[2]);
      std::cout << img.width << ' ' << img.height << '\n';
    } else if (std::strcmp(argv[1], "gif") == 0) {
      const auto info = nca::read_gif_info(argv[2]);
      std::cout << info.width << ' ' << info.height << ' ' << info.frames << '\n';
    } else if (std::strcmp(argv[1], "video") == 0) {
      const auto info = nca::read_video_info(argv[2]);
      std::cout << info.width << ' ' << info.height << ' ' << info.frames << ' ' << info.codec
                << '\n';
    } else if (std::strcmp(argv[1], "model") == 0) {
      nca::CheckpointInfo info;
      nca::load_model(argv[2], &info);
      std::cout << info.iteration << '\n';
    } else if (std::strcmp(argv[1], "pool") == 0) {
      std::cout << nca::read_pool_file(argv[2]).iteration << " finite\n";
    } else {
      std::cerr << "nca_probe: unknown kind '" << argv[1] << "'\n";
      return 2;
    }
  } catch (const c10::Error& e) {
    std::cerr << "nca_probe: " << e.what_without_backtrace() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "nca_probe: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
