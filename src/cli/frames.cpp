// Shared by grow and regen: model loading with the shipped default, and frame output.
#include "frames.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common.h"
#include "nca/atomic_file.h"
#include "nca/errors.h"
#include "nca/limits.h"
#include "nca/plot.h"
#include "nca/run_dir.h"

namespace nca::cli {

namespace fs = std::filesystem;

namespace {

bool ends_with_ci(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(suffix.rbegin(), suffix.rend(), s.rbegin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == b;
  });
}

// The name FrameWriter gives a frame: frame_NNNNN.png.
bool is_frame_name(const std::string& name) {
  static const std::regex frame("frame_[0-9]{5,}\\.png");
  return std::regex_match(name, frame);
}

// A frame nca wrote: the name FrameWriter gives, a regular file (not a link), PNG bytes.
bool is_old_frame(const fs::directory_entry& e) {
  std::error_code ec;
  if (!is_frame_name(e.path().filename().string()) || !e.is_regular_file(ec) || e.is_symlink(ec))
    return false;
  static const char kPng[8] = {'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};
  char head[8] = {};
  std::ifstream in(e.path(), std::ios::binary);
  return in.read(head, 8) && std::equal(head, head + 8, kPng);
}

// Step numbers in a corner: a frame of a long video says where it is.
void draw_step(RgbImage& img, int step) {
  static const uint8_t kInk[3] = {60, 60, 60};
  const int scale = std::max(1, img.height / 120);
  const int margin = 2 * scale;
  draw_text(img, margin, img.height - margin - 7 * scale, "step " + std::to_string(step), kInk,
            scale);
}

}  // namespace

void add_run_model_options(CLI::App& app, RunModelOptions& o, const std::string& default_model,
                           const std::string& default_out) {
  o.out = default_out;
  app.add_option("--model", o.model, help::model(default_model));
  app.add_option("--out", o.out, "Folder for the PNG frames and the GIF")->capture_default_str();
  app.add_option("--gif", o.gif, "GIF path, ending in .gif (default: in --out)");
  app.add_option("--video", o.video,
                 "Also write the frames as an MP4 video (H.264), at the GIF's frame time")
      ->type_name("OUT.mp4");
  app.add_option("--every", o.every, "Keep every K-th frame")->capture_default_str();
  app.add_option("--scale", o.scale, "Upscale frames K times (crisp pixels)")
      ->capture_default_str();
  app.add_option("--gif-delay", o.delay_cs, "GIF time per frame in 1/100 s")->capture_default_str();
  app.add_flag("--step-counter", o.step_counter, "Write the step number into each frame");
  app.add_option("--seed", o.seed, help::kSeed)->capture_default_str();
  app.add_option("--device", o.device, help::kDevice)->capture_default_str();
  app.add_option("--backend", o.backend, help::kBackend)->capture_default_str();
  app.add_option("--threads", o.threads, help::kThreads)->capture_default_str();
}

void add_grid_option(CLI::App& app, std::string& grid) {
  app.add_option("--grid", grid, "Grid N or HxW, in cells (default: the model's training grid)");
}

void add_angle_option(CLI::App& app, double& degrees) {
  app.add_option("--angle", degrees,
                 "Rotate the perception by DEG degrees: the pattern grows turned (anticlockwise "
                 "for DEG > 0)")
      ->capture_default_str();
}

void add_target_options(CLI::App& app, TargetOptions& o) {
  app.add_option("--target", o.image,
                 "Measure the loss against this image (PNG, BMP, TGA, GIF), shrunk and padded "
                 "as the model was trained (default: the target the model holds)")
      ->type_name("IMAGE");
  app.add_option("--size", o.size,
                 "With --target: shrink it to fit SIZE x SIZE (default: as the model was "
                 "trained; Distill's files: 40)");
  app.add_option("--pad", o.pad,
                 "With --target: its empty border, cells (default: as the model was trained; "
                 "Distill's files: 16)");
}

GridSize training_grid(const CheckpointInfo& info) {
  // A model file without a stored target predates them: the reference grid.
  if (!info.target.defined()) return {72, 72};
  return {info.target.size(1), info.target.size(2)};
}

std::optional<GridSize> parse_grid(const std::string& grid) {
  if (grid.empty()) return std::nullopt;
  // "N" or "HxW", each side 1 to 5 digits (plain string work: the value is user input of any
  // length).
  const auto side = [](const std::string& digits) -> int64_t {
    if (digits.empty() || digits.size() > 5 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return -1;
    return std::stoll(digits);
  };
  const size_t x = grid.find_first_of("xX");
  const int64_t h = side(grid.substr(0, x));
  const int64_t w = x == std::string::npos ? h : side(grid.substr(x + 1));
  if (h >= 0 && w >= 0) return GridSize{h, w};
  throw UsageError("--grid '" + excerpt(grid) + "': expected N or HxW, e.g. 72 or 64x128");
}

void check_run_model_options(const RunModelOptions& o) {
  require_positive("--every", o.every);
  require_positive("--scale", o.scale);
  require_positive("--gif-delay", o.delay_cs);
  if (o.delay_cs > limits::kMaxGifDelay)
    throw UsageError(
        fmt::format("--gif-delay {} is out of range: 1 to {} (1/100 s; a GIF stores "
                    "it in 16 bits)",
                    o.delay_cs, limits::kMaxGifDelay));
  limits::check_threads("--threads", o.threads);
  if (!o.gif.empty() && !ends_with_ci(o.gif, ".gif"))
    throw UsageError("--gif '" + excerpt(o.gif) + "': a GIF path must end in .gif");
  if (!o.video.empty() && !ends_with_ci(o.video, ".mp4"))
    throw UsageError("--video '" + excerpt(o.video) + "': a video path must end in .mp4");
}

void check_not_input(const char* flag, const std::string& output, const std::string& input) {
  std::error_code ec;
  if (fs::equivalent(output, input, ec))
    throw UsageError(
        fmt::format("{} '{}' is the model being read ('{}'): writing it would "
                    "destroy it; choose another path",
                    flag, excerpt(output), excerpt(input)));
}

// The mark FrameWriter leaves in its folder: the frames, loss.csv and GIF there are nca's, and the
// next grow or regen into the folder may replace them.
constexpr const char* kOutputMark = ".nca-output";

// Refuses (UsageError) an --out folder without nca's mark that holds a file this command would
// replace or remove (a frame_NNNNN.png, loss.csv, the GIF): it is not nca's to replace.
void check_output_folder(const std::string& out, const std::string& gif) {
  std::error_code ec;
  if (!fs::is_directory(out, ec) || fs::exists(fs::symlink_status(fs::path(out) / kOutputMark, ec)))
    return;
  std::vector<std::string> theirs;
  for (fs::directory_iterator it(out, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code other;
    if (is_old_frame(*it) || name == "loss.csv" || fs::equivalent(it->path(), gif, other))
      theirs.push_back(name);
  }
  if (theirs.empty()) return;
  std::sort(theirs.begin(), theirs.end());
  throw UsageError(fmt::format(
      "--out '{}' holds {}{} that nca did not write there (it has no {}), which this command "
      "would replace: choose a new or empty folder",
      excerpt(out), in_quotes(excerpt(theirs.front())),
      theirs.size() > 1 ? fmt::format(" and {} more", theirs.size() - 1) : "", kOutputMark));
}

void check_outputs(const RunModelOptions& o, const std::string& model_path,
                   const std::string& gif) {
  if (RunDir::is_run_directory(o.out))
    throw UsageError("--out '" + excerpt(o.out) +
                     "' is a training run directory (its loss.csv would be replaced by this "
                     "command's): choose another folder");
  check_output_folder(o.out, gif);
  check_not_input("--gif", gif, model_path);
  check_replaceable(gif);
  if (!o.video.empty()) {
    check_not_input("--video", o.video, model_path);
    check_replaceable(o.video);
  }
}

void require_positive(const char* flag, int64_t value) {
  if (value <= 0) throw UsageError(fmt::format("{} must be positive, got {}", flag, value));
}

std::string find_shipped(const std::string& rel) {
  std::error_code ec;
  if (fs::exists(rel, ec)) return rel;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = (exe.parent_path() / NCA_INSTALLED_DATA / rel).lexically_normal();
    if (fs::exists(installed, ec)) return installed.string();
  }
  const fs::path in_source = fs::path(NCA_SOURCE_DIR) / rel;
  if (fs::exists(in_source, ec)) return in_source.string();
  return "";
}

std::string model_path_or_default(const std::string& model, const std::string& default_name) {
  if (!model.empty()) return resolve_model_path(model);
  const fs::path rel = fs::path("data") / "models" / default_name;
  if (std::string found = find_shipped(rel.string()); !found.empty()) return found;
  throw UsageError("no --model given and the shipped model " + rel.string() +
                   " is neither installed beside nca nor in its source tree: pass --model");
}

at::Tensor measuring_target(const LoadedModel& m, const TargetOptions& o) {
  if (o.image.empty()) {
    if (o.size != 0 || o.pad != -1) throw UsageError("--size and --pad place a --target image");
    return m.info.target;
  }
  TrainConfig trained;  // Distill's size and pad are nca's defaults
  if (!m.info.train_config.empty()) {
    try {
      trained = parse_train_config(m.info.train_config);
    } catch (const UsageError&) {  // not readable: the defaults
    }
  }
  if (o.size != 0) trained.size = o.size;
  if (o.pad != -1) trained.pad = o.pad;
  for (const auto& p : trained.problems())
    if (p.rfind("size", 0) == 0 || p.rfind("pad", 0) == 0) throw UsageError("--target: " + p);
  return target_tensor(load_target(o.image, trained.size, trained.pad));
}

LoadedModel load_for_running(const std::string& path, const c10::Device& device) {
  LoadedModel m;
  m.path = path;
  m.model = load_model(path, &m.info);
  m.model->to(device);
  m.model->eval();
  return m;
}

FrameWriter::FrameWriter(const std::string& out_dir, const std::string& gif_path, int width,
                         int height, const RunModelOptions& o)
    : out_dir_(out_dir), gif_path_(gif_path), scale_(o.scale), step_counter_(o.step_counter) {
  std::error_code ec;
  fs::create_directories(out_dir_, ec);
  if (ec || !fs::is_directory(out_dir_, ec))
    throw std::runtime_error("cannot create output folder '" + out_dir_ +
                             "': " + (ec ? ec.message() : "not a directory"));
  // What a grow or regen killed while writing here left: the temporaries of its own files.
  remove_stale_temporaries(out_dir_, [](const std::string& name) {
    return is_frame_name(name) || name == "loss.csv" || name == kOutputMark;
  });
  for (const std::string& file : {gif_path_, o.video}) {
    if (file.empty()) continue;
    const fs::path p(file);
    remove_stale_temporaries(
        p.has_parent_path() ? p.parent_path().string() : ".",
        [&](const std::string& name) { return name == p.filename().string(); });
  }
  write_text_atomically((fs::path(out_dir_) / kOutputMark).string(),
                        "Written by nca grow or nca regen: the frames, loss.csv and GIF here are "
                        "nca's, and the next grow or regen into this folder replaces them.\n");
  gif_ = std::make_unique<GifWriter>(gif_path_, width * scale_, height * scale_, o.delay_cs);
  if (!o.video.empty())
    video_ = std::make_unique<VideoWriter>(o.video, width * scale_, height * scale_, o.delay_cs);
  // An earlier run's frames beside the new ones would mix two runs in any video made of them.
  std::vector<fs::path> old;
  for (fs::directory_iterator it(out_dir_, ec), end; !ec && it != end; it.increment(ec))
    if (is_old_frame(*it)) old.push_back(it->path());
  if (ec) throw std::runtime_error("cannot list output folder '" + out_dir_ + "': " + ec.message());
  for (const auto& p : old) {
    if (!fs::remove(p, ec) && ec)
      throw std::runtime_error("cannot remove old frame '" + p.string() + "': " + ec.message());
    ++removed_;
  }
}

void FrameWriter::write(int step, const at::Tensor& state) {
  RgbImage frame = upscale(render_rgb(state), scale_);
  if (step_counter_) draw_step(frame, step);
  save_png((fs::path(out_dir_) / fmt::format("frame_{:05d}.png", step)).string(), frame);
  gif_->add_frame(frame);
  if (video_) video_->add_frame(frame);
  ++gif_frames_;
  if (step != last_step_) ++frames_;
  last_step_ = step;
}

void log_video(const FrameWriter& frames) {
  const VideoWriter* v = frames.video();
  if (!v) return;
  spdlog::info("wrote {} ({}, {} frames, {}x{})", v->path(), v->codec_name(), v->frames(),
               v->width(), v->height());
}

void FrameWriter::finish() {
  gif_->close();
  if (video_) video_->close();
}

}  // namespace nca::cli
