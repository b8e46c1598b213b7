// Shared by grow and regen: model loading with the shipped default, and frame output.
#include "frames.h"

#include <filesystem>

#include <fmt/format.h>

#include "nca/errors.h"

namespace nca::cli {

namespace fs = std::filesystem;

void add_run_model_options(CLI::App& app, RunModelOptions& o, const std::string& default_model,
                           const std::string& default_out) {
  o.out = default_out;
  app.add_option(
      "--model", o.model,
      "Model file or run directory (default: the shipped data/models/" + default_model + ")");
  app.add_option("--out", o.out, "Folder for the PNG frames and the GIF")->capture_default_str();
  app.add_option("--gif", o.gif, "GIF path (default: in --out)");
  app.add_option("--every", o.every, "Keep every K-th frame")->capture_default_str();
  app.add_option("--scale", o.scale, "Upscale frames K times (crisp pixels)")
      ->capture_default_str();
  app.add_option("--gif-delay", o.delay_cs, "GIF time per frame in 1/100 s")->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the fire masks (and of a random cut)")
      ->capture_default_str();
  app.add_option("--device", o.device, "auto | cpu | cuda | cuda:K")->capture_default_str();
  app.add_option("--backend", o.backend, "auto | torch | fast (auto: fast on the CPU, same results)")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (0 = all cores)")->capture_default_str();
}

void require_positive(const char* flag, int64_t value) {
  if (value <= 0) throw UsageError(fmt::format("{} must be positive, got {}", flag, value));
}

std::string model_path_or_default(const std::string& model, const std::string& default_name) {
  if (!model.empty()) return resolve_model_path(model);
  const fs::path rel = fs::path("data") / "models" / default_name;
  std::error_code ec;
  if (fs::exists(rel, ec)) return rel.string();
  const fs::path in_source = fs::path(NCA_SOURCE_DIR) / rel;
  if (fs::exists(in_source, ec)) return in_source.string();
  throw UsageError("no --model given and the shipped model " + rel.string() +
                   " is not here: run from the nca checkout or pass --model");
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
                         int height, int scale, int delay_cs)
    : out_dir_(out_dir), gif_path_(gif_path), scale_(scale) {
  std::error_code ec;
  fs::create_directories(out_dir_, ec);
  if (ec || !fs::is_directory(out_dir_, ec))
    throw std::runtime_error("cannot create output folder '" + out_dir_ +
                             "': " + (ec ? ec.message() : "not a directory"));
  gif_ = std::make_unique<GifWriter>(gif_path_, width * scale, height * scale, delay_cs);
}

void FrameWriter::write(int step, const at::Tensor& state) {
  const RgbImage frame = upscale(render_rgb(state), scale_);
  save_png((fs::path(out_dir_) / fmt::format("frame_{:05d}.png", step)).string(), frame);
  gif_->add_frame(frame);
  ++gif_frames_;
  if (step != last_step_) ++frames_;
  last_step_ = step;
}

void FrameWriter::finish() { gif_->close(); }

}  // namespace nca::cli
