// MP4 video (H.264) written frame by frame through FFmpeg's libraries (libavcodec,
// libavformat, libswscale), and read back to check it: a format people can share where a GIF is
// too large or too coarse in colour.
#pragma once

#include <memory>
#include <string>

#include "nca/image_io.h"

namespace nca {

// Encodes RGB frames into an MP4 held in memory and writes it atomically on close(), so a
// failed or interrupted run never leaves a partial video. H.264 (libx264, yuv420p) when this
// FFmpeg has an H.264 encoder that opens, else MPEG-4 Part 2 (FFmpeg's own encoder);
// codec_name() says which. H.264 in 4:2:0 needs even sides: an odd width or height gets one
// more white column or row.
class VideoWriter {
 public:
  // frame_cs: time per frame in hundredths of a second (like the GIF's delay). Throws
  // std::runtime_error naming the path.
  VideoWriter(const std::string& path, int width, int height, int frame_cs = 4);
  ~VideoWriter();  // without close(), nothing is written
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  void add_frame(const RgbImage& frame);  // must be width x height
  void close();                           // flushes the encoder, writes the file; throws
  int frames() const;
  const std::string& path() const;
  const std::string& codec_name() const;  // e.g. "libx264"
  int width() const;                      // of the video: even
  int height() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

struct VideoInfo {
  int width = 0;
  int height = 0;
  int frames = 0;     // decoded frames
  std::string codec;  // the stream's codec, e.g. "h264"
};
// Decodes every frame of a video file with libavformat and libavcodec; throws on failure.
VideoInfo read_video_info(const std::string& path);

}  // namespace nca
