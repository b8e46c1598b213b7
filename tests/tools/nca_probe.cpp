// Test-only probe for the command-line tests: reports image and GIF sizes as the library's own
// decoders (stb_image, giflib) read them, so shell tests need no image tools.
//   nca_probe png FILE   ->  WIDTH HEIGHT
//   nca_probe gif FILE   ->  WIDTH HEIGHT FRAMES
//   nca_probe model FILE ->  ITERATION (after loading the whole checkpoint)
#include <cstring>
#include <iostream>

#include "nca/checkpoint.h"
#include "nca/image_io.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: nca_probe png|gif|model FILE\n";
    return 2;
  }
  try {
    if (std::strcmp(argv[1], "png") == 0) {
      const auto img = nca::load_rgb(argv[2]);
      std::cout << img.width << ' ' << img.height << '\n';
    } else if (std::strcmp(argv[1], "gif") == 0) {
      const auto info = nca::read_gif_info(argv[2]);
      std::cout << info.width << ' ' << info.height << ' ' << info.frames << '\n';
    } else if (std::strcmp(argv[1], "model") == 0) {
      nca::CheckpointInfo info;
      nca::load_model(argv[2], &info);
      std::cout << info.iteration << '\n';
    } else {
      std::cerr << "nca_probe: unknown kind '" << argv[1] << "'\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "nca_probe: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
