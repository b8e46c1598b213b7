// `nca grow`: grow from one seed cell and write the frames and a GIF.
#include <cmath>
#include <filesystem>
#include <optional>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "commands.h"
#include "common.h"
#include "frames.h"
#include "nca/atomic_file.h"
#include "nca/errors.h"
#include "nca/limits.h"
#include "nca/rollout.h"
#include "nca/stepper.h"

namespace nca::cli {
namespace {

namespace fs = std::filesystem;

int grow(int argc, char** argv) {
  RunModelOptions o;
  int steps = 500;
  std::string grid;
  TargetOptions target_options;
  double angle_deg = 0;
  CLI::App app(
      "Grow the trained automaton from one seed cell: numbered PNG frames and a GIF.\n"
      "Also writes loss.csv (loss to the target per frame, the target turned with --angle)\n"
      "when the grid is the training grid. --model also takes Distill's model files\n"
      "(their JSON, e.g. ex3_lizard.json), which hold no target: give one with --target.",
      "nca grow");
  app.get_formatter()->column_width(30);
  add_run_model_options(app, o, "lizard-persistent.pt", "frames");
  app.add_option("--steps", steps, "Steps to run")->capture_default_str();
  add_grid_option(app, grid);
  add_angle_option(app, angle_deg);
  add_target_options(app, target_options);
  if (!parse(app, argc, argv)) return 0;
  limits::check_steps("--steps", steps);
  check_run_model_options(o);
  const std::optional<GridSize> grid_given = parse_grid(grid);

  const auto device = select_device(o.device);
  set_threads(o.threads);
  auto m = load_for_running(model_path_or_default(o.model, "lizard-persistent.pt"), device);
  const auto [h, w] = grid_given.value_or(training_grid(m.info));
  limits::check_grid(grid.empty() ? "the model's training grid" : "--grid " + grid, h, w);
  limits::check_frame(h, w, o.scale);
  const at::Tensor target = measuring_target(m, target_options);
  const bool measure = target.defined() && target.size(1) == h && target.size(2) == w;

  const std::string gif = o.gif.empty() ? (fs::path(o.out) / "growth.gif").string() : o.gif;
  check_outputs(o, m.path, gif);
  FrameWriter frames(o.out, gif, static_cast<int>(w), static_cast<int>(h), o);
  if (frames.removed_old_frames() > 0)
    spdlog::info("removed {} frames of an earlier run from {}", frames.removed_old_frames(), o.out);
  std::string csv = "step,loss\n";
  const double angle = angle_deg * M_PI / 180.0;
  const at::Tensor t = measure ? on_grid(target, h, w, angle).to(device) : at::Tensor();
  spdlog::info("growing {} for {} steps on a {}x{} grid ({})", m.path, steps, h, w, device.str());

  auto gen = at::detail::createCPUGenerator(o.seed);
  RunOptions ro;
  ro.angle = angle;
  ro.every = o.every;
  ro.stepper = make_stepper(parse_backend(o.backend), m.model->config(), device);
  double last_loss = NAN;
  auto x = seed_state(1, m.info.model.channels, h, w, torch::TensorOptions().device(device));
  run_steps(m.model, x, 0, steps, gen, ro, [&](int step, const at::Tensor& state) {
    frames.write(step, state);
    if (measure) {
      last_loss = per_sample_loss(state, t).item<double>();
      csv += fmt::format("{},{:.9g}\n", step, last_loss);
    }
  });
  frames.finish();
  log_video(frames);
  if (measure) write_text_atomically((fs::path(o.out) / "loss.csv").string(), csv);
  spdlog::info("wrote {} frames to {} and {}", frames.frames(), o.out, frames.gif_path());
  if (measure) spdlog::info("loss to the target at step {}: {:.6f}", steps, last_loss);
  return 0;
}

}  // namespace

int run_grow(int argc, char** argv) {
  return guarded("grow", [&] { return grow(argc, argv); });
}

}  // namespace nca::cli
