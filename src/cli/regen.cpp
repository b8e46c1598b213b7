// `nca regen`: grow, cut, keep running, and say how much of the loss the cut caused came back.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "commands.h"
#include "common.h"
#include "frames.h"
#include "nca/config_file.h"
#include "nca/errors.h"
#include "nca/limits.h"
#include "nca/rollout.h"
#include "nca/stepper.h"

namespace nca::cli {
namespace {

namespace fs = std::filesystem;

// Below this, regen explains why the pattern did not heal (the shipped regenerating lizard
// recovers about 1.0 from Distill's cuts).
constexpr double kPoorRecovery = 0.9;

// The experiment a checkpoint was trained with, from its resolved config ("" if not recorded, or
// not readable as a config).
std::string trained_experiment(const CheckpointInfo& info) {
  if (info.train_config.empty()) return "";
  try {
    return to_string(parse_train_config(info.train_config).experiment);
  } catch (const UsageError&) {
    return "";
  }
}

// Why recovery was poor, in words a user can act on.
std::string poor_recovery_hint(const std::string& experiment, int steps) {
  if (!experiment.empty() && experiment != "regenerating")
    return "hint: this model was trained with experiment '" + experiment +
           "', which never sees damage; models trained with --experiment regenerating heal "
           "cuts (the shipped data/models/lizard-regenerating.pt, the default, does)";
  const std::string why =
      "hint: regenerating training heals random circles (radius 5-20% of the grid's width): a "
      "larger cut may be beyond the model";
  const std::string smaller_cut = "a smaller cut (--cut square is Distill's 16x16)";
  constexpr int kMoreSteps = 500;
  // More steps are suggested only to a run that had fewer.
  if (steps < kMoreSteps)
    return fmt::format("{}, or {} steps too few; try --steps {} or {}", why, steps, kMoreSteps,
                       smaller_cut);
  return why + "; try " + smaller_cut;
}

int regen(int argc, char** argv) {
  RunModelOptions o;
  std::string cut_name = "half";
  int64_t cut_size = kDistillSquareSide;
  int at = 200, steps = 300;
  std::string grid;
  TargetOptions target_options;
  double angle_deg = 0;
  CLI::App app(
      "Grow from a seed, cut part of the pattern away at step --at, keep running, and\n"
      "print the loss to the target before the cut, right after it and at the end.\n"
      "recovered = (after cut - end) / (after cut - before cut); 1 is fully healed.\n"
      "A model that holds no target (Distill's model files) is measured against its own\n"
      "state at the cut step, unless --target gives an image.\n"
      "On another --grid the target is placed around the seed cell (the grid's centre), and\n"
      "with --angle turned as the pattern turns; the cuts are made around the seed cell too.",
      "nca regen");
  app.get_formatter()->column_width(30);
  add_run_model_options(app, o, "lizard-regenerating.pt", "regen");
  app.add_option("--cut", cut_name,
                 "half (= right) | left | right | top | bottom: that half of the grid, split at "
                 "the seed cell | square: a centred square, Distill's 16x16 (cells 28-43 on the "
                 "72x72 grid) | circle: random as in training (on the training grid, centred "
                 "on the seed; drawn from --seed)")
      ->capture_default_str();
  auto* cut_size_opt =
      app.add_option("--cut-size", cut_size, "Side of the centred square of --cut square, cells")
          ->capture_default_str();
  app.add_option("--at", at, "Step at which to cut")->capture_default_str();
  app.add_option("--steps", steps, "Steps to run after the cut")->capture_default_str();
  add_grid_option(app, grid);
  add_angle_option(app, angle_deg);
  add_target_options(app, target_options);
  if (!parse(app, argc, argv)) return 0;
  const Cut cut = parse_cut(cut_name);
  if (cut_size_opt->count() > 0 && cut != Cut::Square)
    throw UsageError("--cut-size sets the side of --cut square; --cut " + cut_name +
                     " has no size");
  require_positive("--cut-size", cut_size);
  limits::check_steps("--at", at);
  limits::check_steps("--steps", steps);
  check_run_model_options(o);
  const std::optional<GridSize> grid_given = parse_grid(grid);

  const auto device = select_device(o.device);
  set_threads(o.threads);
  auto m = load_for_running(model_path_or_default(o.model, "lizard-regenerating.pt"), device);
  const at::Tensor target = measuring_target(m, target_options);
  const auto [h, w] = grid_given.value_or(training_grid(m.info));
  limits::check_grid(grid.empty() ? "the model's training grid" : "--grid " + grid, h, w);
  limits::check_frame(h, w, o.scale);
  if (cut == Cut::Square && (cut_size > h || cut_size > w))
    throw UsageError(fmt::format("--cut-size {} does not fit the {}x{} grid", cut_size, h, w));
  const std::string gif = o.gif.empty() ? (fs::path(o.out) / "regen.gif").string() : o.gif;
  check_outputs(o, m.path, gif);
  FrameWriter frames(o.out, gif, static_cast<int>(w), static_cast<int>(h), o);
  if (frames.removed_old_frames() > 0)
    spdlog::info("removed {} frames of an earlier run from {}", frames.removed_old_frames(), o.out);
  const std::string cut_text =
      cut == Cut::Square ? fmt::format("a centred {0}x{0} square", cut_size) : to_string(cut);
  spdlog::info("regen {}: grow {} steps, cut {}, run {} more ({}x{} grid, {})", m.path, at,
               cut_text, steps, h, w, device.str());

  auto gen = at::detail::createCPUGenerator(o.seed);
  RunOptions ro;
  ro.angle = angle_deg * M_PI / 180.0;
  ro.every = o.every;
  ro.stepper = make_stepper(parse_backend(o.backend), m.model->config(), device);
  ro.height = h;
  ro.width = w;
  // The loss counts what the grid holds: on a grid smaller than the pattern, part of the target
  // is off the grid.
  if (target.defined()) {
    const at::Tensor placed = on_grid(target, h, w);
    if (placed.select(0, 3).sum().item<double>() < target.select(0, 3).sum().item<double>())
      spdlog::warn("the target does not fit on the {}x{} grid: the loss counts the part on it", h,
                   w);
  } else {
    spdlog::info("{} holds no target: the loss is measured against its own state at step {}",
                 m.path, at);
  }
  const RegenResult r =
      regenerate(m.model, target, CutSpec(cut, cut_size), at, steps, gen, ro,
                 [&](int step, const at::Tensor& state) { frames.write(step, state); });
  frames.finish();
  log_video(frames);
  spdlog::info("wrote {} frames to {} and {} ({} frames: step {} before and after the cut)",
               frames.frames(), o.out, frames.gif_path(), frames.gif_frames(), at);
  if (!target.defined())
    std::printf("(no target: losses to the model's own state at step %d, before the cut)\n", at);
  std::printf("loss before cut (step %d)  %.6f\n", at, r.loss_before_cut);
  std::printf("loss after cut            %.6f  (%ld living cells removed)\n", r.loss_after_cut,
              static_cast<long>(r.cells_removed));
  std::printf("loss at end (step %d)     %.6f\n", at + steps, r.loss_end);
  if (std::isnan(r.recovered)) {
    std::printf("recovered=n/a (%s)\n",
                r.cells_removed == 0
                    ? "the cut removed no living cell: there was nothing to recover"
                    : "the cut did not raise the loss: the cells it removed were not part of "
                      "the target");
  } else {
    std::printf("recovered=%.4f\n", r.recovered);
    if (r.recovered < kPoorRecovery)
      std::printf("%s\n", poor_recovery_hint(trained_experiment(m.info), steps).c_str());
  }
  return 0;
}

}  // namespace

int run_regen(int argc, char** argv) {
  return guarded("regen", [&] { return regen(argc, argv); });
}

}  // namespace nca::cli
