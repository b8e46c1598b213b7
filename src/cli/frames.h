// What grow and regen share: the model to run (with the shipped default), and the frame writer
// (numbered PNGs, upscaled with crisp pixels, plus an animated GIF).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "nca/checkpoint.h"
#include "nca/image_io.h"
#include "nca/model.h"
#include "nca/video.h"

namespace nca::cli {

// The options every "run a model" command takes.
struct RunModelOptions {
  std::string model;          // model file or run directory ("" = the shipped default)
  std::string out;            // folder for frames and the GIF
  std::string gif;            // GIF path ("" = <out>/<default name>)
  std::string video;          // MP4 path ("" = none)
  int every = 1;              // keep every K-th frame
  int scale = 4;              // upscaling factor of frames
  int delay_cs = 4;           // GIF time per frame, hundredths of a second
  bool step_counter = false;  // draw the step number into each frame
  uint64_t seed = 0;          // fire masks (and random cuts)
  std::string device = "auto";
  std::string backend = "auto";  // auto | torch | fast
  int threads = 0;
};

// Adds --model --out --gif --video --every --scale --gif-delay --step-counter --seed --device
// --backend
// --threads.
void add_run_model_options(CLI::App& app, RunModelOptions& o, const std::string& default_model,
                           const std::string& default_out);

// --grid of grow, regen and export: "N" or "HxW", "" for the model's training grid.
void add_grid_option(CLI::App& app, std::string& grid);
// --angle of grow and regen, degrees.
void add_angle_option(CLI::App& app, double& degrees);
// --target of grow and regen: an image to measure the loss against, and how it is placed.
struct TargetOptions {
  std::string image;  // "" = the target the model holds
  int size = 0;       // shrink to fit size x size (0: as the model was trained)
  int pad = -1;       // border around it (-1: as the model was trained)
};
// Adds --target, --size and --pad.
void add_target_options(CLI::App& app, TargetOptions& o);

struct GridSize {
  int64_t height = 0, width = 0;
};
// --grid as given: "72" or "64x96" (height x width); nullopt for "", the model's training
// grid. Throws UsageError for anything else; the limits are the caller's to check.
std::optional<GridSize> parse_grid(const std::string& grid);
// The grid a model was trained on (its stored target's), or 72, the reference grid, for a model
// file that does not record it.
GridSize training_grid(const CheckpointInfo& info);

// Checks what add_run_model_options parsed: positive numbers, a --gif path ending in .gif, a
// --video path ending in .mp4.
// Throws UsageError.
void check_run_model_options(const RunModelOptions& o);

// Before any work: refuses (UsageError, one line) outputs that would destroy an input or are
// not files nca may replace: an --out folder that is a training run directory (grow and regen
// write loss.csv and frames there), a --gif or --video that is the model being read, or that
// is a device, FIFO, socket or symbolic link (check_replaceable).
void check_outputs(const RunModelOptions& o, const std::string& model_path, const std::string& gif);

// Refuses (UsageError) writing `output` (given with `flag`) when it is the file `input`.
void check_not_input(const char* flag, const std::string& output, const std::string& input);

// A file shipped with nca (rel: e.g. "data/lizard.png"), found relative to the working
// directory, where an install put it (bin/../share/nca/rel) or in the source tree nca was built
// from; "" when none has it.
std::string find_shipped(const std::string& rel);

// The model path to use: o.model (a file or run directory) or the shipped default (find_shipped).
std::string model_path_or_default(const std::string& model, const std::string& default_name);

struct LoadedModel {
  NCAModel model{nullptr};
  CheckpointInfo info;
  std::string path;
};
// Loads, checks and moves to `device`.
LoadedModel load_for_running(const std::string& path, const c10::Device& device);

// The 4 x H x W target grow and regen measure the loss against: the --target image shrunk and
// padded by --size and --pad, else as the model was trained (its config's size and pad; 40 and
// 16, Distill's, for a model that does not record them), else the model's stored target;
// undefined when there is neither (Distill's files hold none).
at::Tensor measuring_target(const LoadedModel& m, const TargetOptions& o);

// Writes frame_NNNNN.png files and a GIF of the same frames; errors name the path. Frames an
// earlier run left in out_dir (regular files named frame_NNNNN.png holding a PNG) are removed
// first, so the folder holds one run; nothing else there is touched.
class FrameWriter {
 public:
  FrameWriter(const std::string& out_dir, const std::string& gif_path, int width, int height,
              const RunModelOptions& o);
  void write(int step, const at::Tensor& state);
  void finish();  // closes the GIF and the video
  // PNG files written: a step written twice (regen's cut) replaces its file.
  int frames() const { return frames_; }
  int gif_frames() const { return gif_frames_; }
  const std::string& gif_path() const { return gif_path_; }
  int removed_old_frames() const { return removed_; }
  const VideoWriter* video() const { return video_.get(); }

 private:
  std::string out_dir_, gif_path_;
  int scale_;
  bool step_counter_;
  int removed_ = 0;
  std::unique_ptr<GifWriter> gif_;
  std::unique_ptr<VideoWriter> video_;  // null without --video
  int frames_ = 0;
  int gif_frames_ = 0;
  int last_step_ = -1;
};

// Logs where the video went and how it was encoded (nothing without --video).
void log_video(const FrameWriter& frames);

// Validates a positive integer option with a readable message.
void require_positive(const char* flag, int64_t value);

}  // namespace nca::cli
