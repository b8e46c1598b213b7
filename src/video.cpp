// MP4 through FFmpeg's libraries: the muxer writes into a seekable in-memory file (it seeks back
// to patch sizes), and the finished bytes go through the atomic writer like every other output.
#include "nca/video.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include "nca/atomic_file.h"
#include "nca/errors.h"

namespace nca {
namespace {

std::string av_error(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

// FFmpeg logs to stderr by itself (x264's banner and statistics, and errors we report in our
// own words): nca's errors are one line, so FFmpeg is asked to stay quiet.
void quiet_ffmpeg() { av_log_set_level(AV_LOG_QUIET); }

struct MemoryFile {
  std::vector<uint8_t> bytes;
  int64_t pos = 0;
};

// FFmpeg 7 (libavformat 61) made the write callback's buffer const.
#if LIBAVFORMAT_VERSION_MAJOR >= 61
using WriteBuffer = const uint8_t*;
#else
using WriteBuffer = uint8_t*;
#endif

int memory_write(void* opaque, WriteBuffer buf, int size) {
  auto& f = *static_cast<MemoryFile*>(opaque);
  if (size < 0) return AVERROR(EINVAL);
  const size_t end = static_cast<size_t>(f.pos) + static_cast<size_t>(size);
  try {
    if (end > f.bytes.size()) f.bytes.resize(end);
  } catch (const std::bad_alloc&) {
    return AVERROR(ENOMEM);
  }
  std::memcpy(f.bytes.data() + f.pos, buf, static_cast<size_t>(size));
  f.pos = static_cast<int64_t>(end);
  return size;
}

int64_t memory_seek(void* opaque, int64_t offset, int whence) {
  auto& f = *static_cast<MemoryFile*>(opaque);
  const auto size = static_cast<int64_t>(f.bytes.size());
  int64_t to = 0;
  switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
      return size;
    case SEEK_SET:
      to = offset;
      break;
    case SEEK_CUR:
      to = f.pos + offset;
      break;
    case SEEK_END:
      to = size + offset;
      break;
    default:
      return AVERROR(EINVAL);
  }
  if (to < 0) return AVERROR(EINVAL);
  f.pos = to;
  return to;
}

struct FormatInputClose {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct CodecContextFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};

}  // namespace

struct VideoWriter::State {
  std::string path;
  int width = 0, height = 0;  // of the frames given
  int video_width = 0, video_height = 0;
  int frames = 0;
  bool closed = false;
  std::string codec;
  MemoryFile file;
  AVFormatContext* format = nullptr;
  AVCodecContext* encoder = nullptr;
  AVStream* stream = nullptr;
  AVIOContext* io = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* packet = nullptr;
  SwsContext* sws = nullptr;
  std::vector<uint8_t> rgb;  // a frame padded to the video's even size

  ~State() {
    sws_freeContext(sws);
    av_packet_free(&packet);
    av_frame_free(&frame);
    avcodec_free_context(&encoder);
    if (io) {
      av_freep(&io->buffer);
      avio_context_free(&io);
    }
    avformat_free_context(format);  // custom I/O: nothing to close
  }

  [[noreturn]] void fail(const std::string& during, int err) const {
    throw std::runtime_error("cannot write video " + in_quotes(path) + ": " + during + ": " +
                             av_error(err));
  }

  // Sends one frame (nullptr: flush) and muxes every packet the encoder has ready.
  void encode(const AVFrame* f) {
    int err = avcodec_send_frame(encoder, f);
    if (err < 0) fail("encoding frame " + std::to_string(frames), err);
    for (;;) {
      err = avcodec_receive_packet(encoder, packet);
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      if (err < 0) fail("encoding", err);
      // Every packet is one frame. Without a duration the muxer's edit list ends at the last
      // frame's start, and players drop that frame.
      packet->duration = 1;
      av_packet_rescale_ts(packet, encoder->time_base, stream->time_base);
      packet->stream_index = stream->index;
      err = av_interleaved_write_frame(format, packet);
      if (err < 0) fail("muxing", err);
    }
  }

  // Opens `codec` at the video's size; false when this machine cannot use it (a hardware
  // encoder without its hardware).
  bool open_encoder(const AVCodec* c, int frame_cs) {
    if (!c) return false;
    encoder = avcodec_alloc_context3(c);
    if (!encoder) throw std::bad_alloc();
    encoder->width = video_width;
    encoder->height = video_height;
    encoder->time_base = AVRational{frame_cs, 100};
    encoder->framerate = AVRational{100, frame_cs};
    encoder->pix_fmt = AV_PIX_FMT_YUV420P;  // what every player decodes
    encoder->gop_size = 50;
    // swscale converts with BT.601 coefficients in limited range: say so, so players agree.
    encoder->colorspace = AVCOL_SPC_SMPTE170M;
    encoder->color_range = AVCOL_RANGE_MPEG;
    if (format->oformat->flags & AVFMT_GLOBALHEADER) encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (c->id == AV_CODEC_ID_H264) {
      // Crisp pixel edges on flat colour: a low CRF keeps them without many bytes.
      av_opt_set(encoder->priv_data, "preset", "medium", 0);
      av_opt_set(encoder->priv_data, "crf", "18", 0);
    } else {
      encoder->flags |= AV_CODEC_FLAG_QSCALE;
      encoder->global_quality = FF_QP2LAMBDA * 3;
    }
    if (avcodec_open2(encoder, c, nullptr) < 0) {
      avcodec_free_context(&encoder);
      return false;
    }
    codec = c->name;
    return true;
  }
};

VideoWriter::VideoWriter(const std::string& path, int width, int height, int frame_cs)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.path = path;
  const std::string what = "cannot write video " + in_quotes(path);
  if (width < 1 || width > 16384 || height < 1 || height > 16384)
    throw std::runtime_error(what + ": invalid size " + std::to_string(width) + "x" +
                             std::to_string(height));
  if (frame_cs < 1 || frame_cs > 65535)
    throw std::runtime_error(what + ": invalid frame time " + std::to_string(frame_cs));
  // Fail now rather than after a long rollout when the folder is missing.
  const auto parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    throw std::runtime_error(what + ": folder '" + parent.string() + "' does not exist");
  quiet_ffmpeg();
  s.width = width;
  s.height = height;
  s.video_width = width + width % 2;
  s.video_height = height + height % 2;

  int err = avformat_alloc_output_context2(&s.format, nullptr, "mp4", nullptr);
  if (err < 0 || !s.format) s.fail("no MP4 muxer in this FFmpeg", err);
  if (!s.open_encoder(avcodec_find_encoder_by_name("libx264"), frame_cs) &&
      !s.open_encoder(avcodec_find_encoder(AV_CODEC_ID_H264), frame_cs) &&
      !s.open_encoder(avcodec_find_encoder(AV_CODEC_ID_MPEG4), frame_cs))
    throw std::runtime_error(what + ": this FFmpeg has no usable H.264 or MPEG-4 encoder");
  s.stream = avformat_new_stream(s.format, nullptr);
  if (!s.stream) throw std::bad_alloc();
  s.stream->time_base = s.encoder->time_base;
  err = avcodec_parameters_from_context(s.stream->codecpar, s.encoder);
  if (err < 0) s.fail("stream parameters", err);

  constexpr int kBuffer = 1 << 16;
  auto* buffer = static_cast<unsigned char*>(av_malloc(kBuffer));
  if (!buffer) throw std::bad_alloc();
  s.io = avio_alloc_context(buffer, kBuffer, 1, &s.file, nullptr, memory_write, memory_seek);
  if (!s.io) {
    av_free(buffer);
    throw std::bad_alloc();
  }
  s.format->pb = s.io;
  s.format->flags |= AVFMT_FLAG_CUSTOM_IO;
  err = avformat_write_header(s.format, nullptr);
  if (err < 0) s.fail("header", err);

  s.frame = av_frame_alloc();
  s.packet = av_packet_alloc();
  if (!s.frame || !s.packet) throw std::bad_alloc();
  s.frame->format = AV_PIX_FMT_YUV420P;
  s.frame->width = s.video_width;
  s.frame->height = s.video_height;
  s.frame->colorspace = s.encoder->colorspace;
  s.frame->color_range = s.encoder->color_range;
  err = av_frame_get_buffer(s.frame, 0);
  if (err < 0) s.fail("frame buffer", err);
  s.sws = sws_getContext(s.video_width, s.video_height, AV_PIX_FMT_RGB24, s.video_width,
                         s.video_height, AV_PIX_FMT_YUV420P, SWS_BILINEAR | SWS_ACCURATE_RND,
                         nullptr, nullptr, nullptr);
  if (!s.sws) throw std::runtime_error(what + ": swscale cannot convert RGB to YUV 4:2:0");
  // Padding is white, like the background nca renders on.
  s.rgb.assign(static_cast<size_t>(s.video_width) * s.video_height * 3, 255);
}

VideoWriter::~VideoWriter() = default;

void VideoWriter::add_frame(const RgbImage& frame) {
  State& s = *state_;
  const std::string what = "cannot write video " + in_quotes(s.path);
  if (s.closed) throw std::runtime_error(what + ": add_frame after close");
  if (frame.width != s.width || frame.height != s.height ||
      frame.pixels.size() != static_cast<size_t>(s.width) * s.height * 3)
    throw std::runtime_error(what + ": frame is " + std::to_string(frame.width) + "x" +
                             std::to_string(frame.height) + ", expected " +
                             std::to_string(s.width) + "x" + std::to_string(s.height));
  const size_t row = static_cast<size_t>(s.width) * 3;
  for (int y = 0; y < s.height; ++y)
    std::memcpy(&s.rgb[static_cast<size_t>(y) * s.video_width * 3], &frame.pixels[y * row], row);
  int err = av_frame_make_writable(s.frame);
  if (err < 0) s.fail("frame buffer", err);
  const uint8_t* src[1] = {s.rgb.data()};
  const int stride[1] = {s.video_width * 3};
  sws_scale(s.sws, src, stride, 0, s.video_height, s.frame->data, s.frame->linesize);
  s.frame->pts = s.frames;
  s.encode(s.frame);
  ++s.frames;
}

void VideoWriter::close() {
  State& s = *state_;
  if (s.closed) return;
  s.closed = true;
  const std::string what = "cannot write video " + in_quotes(s.path);
  if (s.frames == 0) throw std::runtime_error(what + ": no frames were added");
  s.encode(nullptr);
  int err = av_write_trailer(s.format);
  if (err < 0) s.fail("trailer", err);
  avio_flush(s.io);
  if (s.io->error < 0) s.fail("in memory", s.io->error);
  const auto& bytes = s.file.bytes;
  write_bytes_atomically(s.path, [&](ByteSink& out) { out.write(bytes.data(), bytes.size()); });
}

int VideoWriter::frames() const { return state_->frames; }
const std::string& VideoWriter::path() const { return state_->path; }
const std::string& VideoWriter::codec_name() const { return state_->codec; }
int VideoWriter::width() const { return state_->video_width; }
int VideoWriter::height() const { return state_->video_height; }

VideoInfo read_video_info(const std::string& path) {
  quiet_ffmpeg();
  const std::string what = "cannot read video " + in_quotes(path);
  AVFormatContext* raw = nullptr;
  int err = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (err < 0) throw std::runtime_error(what + ": " + av_error(err));
  std::unique_ptr<AVFormatContext, FormatInputClose> format(raw);
  err = avformat_find_stream_info(format.get(), nullptr);
  if (err < 0) throw std::runtime_error(what + ": " + av_error(err));
  const AVCodec* decoder = nullptr;
  const int index = av_find_best_stream(format.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
  if (index < 0 || !decoder) throw std::runtime_error(what + ": no decodable video stream");
  const AVCodecParameters* par = format->streams[index]->codecpar;
  std::unique_ptr<AVCodecContext, CodecContextFree> ctx(avcodec_alloc_context3(decoder));
  std::unique_ptr<AVFrame, FrameFree> frame(av_frame_alloc());
  std::unique_ptr<AVPacket, PacketFree> packet(av_packet_alloc());
  if (!ctx || !frame || !packet) throw std::bad_alloc();
  err = avcodec_parameters_to_context(ctx.get(), par);
  if (err >= 0) err = avcodec_open2(ctx.get(), decoder, nullptr);
  if (err < 0) throw std::runtime_error(what + ": " + av_error(err));

  VideoInfo info;
  info.width = par->width;
  info.height = par->height;
  info.codec = avcodec_get_name(par->codec_id);
  auto drain = [&] {
    for (;;) {
      const int e = avcodec_receive_frame(ctx.get(), frame.get());
      if (e == AVERROR(EAGAIN) || e == AVERROR_EOF) return;
      if (e < 0) throw std::runtime_error(what + ": decoding: " + av_error(e));
      ++info.frames;
      av_frame_unref(frame.get());
    }
  };
  while ((err = av_read_frame(format.get(), packet.get())) >= 0) {
    if (packet->stream_index == index) {
      const int e = avcodec_send_packet(ctx.get(), packet.get());
      av_packet_unref(packet.get());
      if (e < 0) throw std::runtime_error(what + ": decoding: " + av_error(e));
      drain();
    } else {
      av_packet_unref(packet.get());
    }
  }
  if (err != AVERROR_EOF) throw std::runtime_error(what + ": reading: " + av_error(err));
  avcodec_send_packet(ctx.get(), nullptr);
  drain();
  return info;
}

}  // namespace nca
