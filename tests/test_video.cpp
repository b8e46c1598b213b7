// video: MP4 written through FFmpeg and decoded back through FFmpeg (frame count, size, codec),
// odd sizes padded to even, nothing written without close(), errors naming the path.
#include "nca/video.h"

#include "catch.h"

#include <filesystem>
#include <stdexcept>

#include "test_util.h"

namespace {

nca::RgbImage frame(int w, int h, int i) {
  nca::RgbImage img;
  img.width = w;
  img.height = h;
  img.pixels.assign(static_cast<size_t>(w) * h * 3, 255);
  img.pixels[static_cast<size_t>(i % (w * h)) * 3] = 0;  // a pixel that moves: frames differ
  return img;
}

}  // namespace

TEST_CASE("an MP4 decodes back with every frame at its size, in H.264") {
  nca::test::TempDir dir;
  const std::string path = dir.file("a.mp4");
  nca::VideoWriter v(path, 24, 16, 4);
  for (int i = 0; i < 13; ++i) v.add_frame(frame(24, 16, i));
  v.close();
  CHECK(v.codec_name() == "libx264");  // Debian's libavcodec links libx264
  const auto info = nca::read_video_info(path);
  CHECK(info.width == 24);
  CHECK(info.height == 16);
  CHECK(info.frames == 13);
  CHECK(info.codec == "h264");
}

TEST_CASE("odd sides get one more row or column, and no file without close()") {
  nca::test::TempDir dir;
  {
    nca::VideoWriter v(dir.file("odd.mp4"), 13, 7, 8);
    CHECK(v.width() == 14);
    CHECK(v.height() == 8);
    v.add_frame(frame(13, 7, 0));
    v.add_frame(frame(13, 7, 1));
    CHECK_THROWS_AS(v.add_frame(frame(12, 7, 0)), std::runtime_error);
    v.close();
    const auto info = nca::read_video_info(dir.file("odd.mp4"));
    CHECK(info.width == 14);
    CHECK(info.height == 8);
    CHECK(info.frames == 2);
  }
  {
    nca::VideoWriter v(dir.file("dropped.mp4"), 8, 8, 4);
    v.add_frame(frame(8, 8, 0));
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("dropped.mp4")));
  // Nothing beside the video either: it is built in memory and renamed into place.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);
}

TEST_CASE("video errors name the file") {
  nca::test::TempDir dir;
  CHECK_THROWS_WITH(nca::VideoWriter(dir.file("no/such/x.mp4"), 8, 8, 4),
                    Contains("x.mp4") && Contains("does not exist"));
  nca::VideoWriter empty(dir.file("empty.mp4"), 8, 8, 4);
  CHECK_THROWS_WITH(empty.close(), Contains("no frames"));
  CHECK_THROWS_WITH(nca::read_video_info(dir.file("missing.mp4")),
                    Contains("cannot read video") && Contains("missing.mp4"));
}
