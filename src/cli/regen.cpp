// `nca regen`: grow, cut, keep running, and say how much of the loss the cut caused came back.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "commands.h"
#include "common.h"
#include "frames.h"
#include "nca/errors.h"
#include "nca/rollout.h"

namespace nca::cli {
namespace {

namespace fs = std::filesystem;

int regen(int argc, char** argv) {
  RunModelOptions o;
  std::string cut_name = "half";
  int at = 200, steps = 300;
  CLI::App app(
      "Grow from a seed, cut part of the pattern away at step --at, keep running, and\n"
      "print the loss to the target before the cut, right after it and at the end.\n"
      "recovered = (after cut - end) / (after cut - before cut); 1 is fully healed.",
      "nca regen");
  app.get_formatter()->column_width(30);
  add_run_model_options(app, o, "lizard-regenerating.pt", "regen");
  app.add_option("--cut", cut_name, "half | left | right | top | bottom | square | circle")
      ->capture_default_str();
  app.add_option("--at", at, "Step at which to cut")->capture_default_str();
  app.add_option("--steps", steps, "Steps to run after the cut")->capture_default_str();
  if (!parse(app, argc, argv)) return 0;
  const Cut cut = parse_cut(cut_name);
  require_positive("--at", at);
  require_positive("--steps", steps);
  require_positive("--every", o.every);
  require_positive("--scale", o.scale);
  require_positive("--gif-delay", o.delay_cs);
  if (at > 100000 || steps > 100000) throw UsageError("--at and --steps must be at most 100000");

  const auto device = select_device(o.device);
  set_threads(o.threads);
  auto m = load_for_running(model_path_or_default(o.model, "lizard-regenerating.pt"), device);
  if (!m.info.target.defined())
    throw std::runtime_error("model '" + m.path + "' holds no target to measure the loss against");
  const auto h = static_cast<int>(m.info.target.size(1)),
             w = static_cast<int>(m.info.target.size(2));
  const std::string gif = o.gif.empty() ? (fs::path(o.out) / "regen.gif").string() : o.gif;
  FrameWriter frames(o.out, gif, w, h, o.scale, o.delay_cs);
  spdlog::info("regen {}: grow {} steps, cut {}, run {} more ({}x{} grid, {})", m.path, at,
               to_string(cut), steps, h, w, device.str());

  auto gen = at::detail::createCPUGenerator(o.seed);
  RunOptions ro;
  ro.every = o.every;
  const RegenResult r =
      regenerate(m.model, m.info.target, cut, at, steps, gen, ro,
                 [&](int step, const at::Tensor& state) { frames.write(step, state); });
  frames.finish();
  spdlog::info("wrote {} frames to {}/ and {}", frames.frames(), o.out, frames.gif_path());
  std::printf("loss before cut (step %d)  %.6f\n", at, r.loss_before_cut);
  std::printf("loss after cut            %.6f\n", r.loss_after_cut);
  std::printf("loss at end (step %d)     %.6f\n", at + steps, r.loss_end);
  std::printf("recovered=%.4f\n", r.recovered);
  return 0;
}

}  // namespace

int run_regen(int argc, char** argv) {
  return guarded("regen", [&] { return regen(argc, argv); });
}

}  // namespace nca::cli
