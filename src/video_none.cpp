// VideoWriter in a build without FFmpeg's libraries (NCA_WITH_VIDEO=OFF, as on a machine that has
// LibTorch but no FFmpeg to build against): asking for a video gets one line saying so, and
// nothing else changes.
#include <stdexcept>

#include "nca/video.h"

namespace nca {
namespace {
std::runtime_error no_video(const std::string& path) {
  return std::runtime_error("cannot write or read video '" + path +
                            "': this nca was built without FFmpeg (NCA_WITH_VIDEO=OFF); leave out "
                            "--video, or rebuild with FFmpeg's libraries");
}
const std::string kNone;
}  // namespace

struct VideoWriter::State {};

VideoWriter::VideoWriter(const std::string& path, int, int, int) { throw no_video(path); }
VideoWriter::~VideoWriter() = default;
// Unreachable: no VideoWriter is ever constructed in this build.
void VideoWriter::add_frame(const RgbImage&) {}
void VideoWriter::close() {}
int VideoWriter::frames() const { return 0; }
const std::string& VideoWriter::path() const { return kNone; }
const std::string& VideoWriter::codec_name() const { return kNone; }
int VideoWriter::width() const { return 0; }
int VideoWriter::height() const { return 0; }

VideoInfo read_video_info(const std::string& path) { throw no_video(path); }

}  // namespace nca
