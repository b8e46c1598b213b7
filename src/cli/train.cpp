// `nca train`: resolve the config (defaults < --config file < flags), train with a progress
// display into the run directory (nca/run_dir.h), save on Ctrl-C, SIGTERM or SIGHUP, resume with --resume.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <functional>

#include <signal.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "commands.h"
#include "common.h"
#include "nca/errors.h"
#include "nca/fast_step.h"
#include "nca/image_io.h"
#include "nca/run_dir.h"
#include "nca/trainer.h"
#include "train_flags.h"

namespace nca::cli {
namespace {

namespace fs = std::filesystem;

// Set from the signal handler; a signal handler can reach nothing but static state.
std::atomic<bool> g_stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void on_stop_signal(int sig) {
  g_stop_requested = true;
  std::signal(sig, SIG_DFL);  // a second Ctrl-C kills at once (files are written atomically)
}

std::unique_ptr<CLI::App> make_app(TrainOptions& o) {
  auto app = std::make_unique<CLI::App>(
      "Train a Growing Neural Cellular Automaton to grow the target image from one seed cell.\n"
      "Writes a run directory: config.toml, model.pt, checkpoints/, loss.csv, pictures.",
      "nca train");
  app->get_formatter()->column_width(32);
  add_train_flags(*app, o);
  return app;
}

// Parses argv; with --resume and no --config, the run directory's config.toml is the base that
// the flags override, so a resumed run keeps its settings.
TrainOptions resolve_options(int argc, char** argv, bool& help) {
  TrainOptions o;
  auto app = make_app(o);
  help = !parse(*app, argc, argv);
  if (help) return o;
  if (o.resume && o.config_option->count() == 0) {
    std::string dir = o.run_dir;
    if (dir.empty() && !o.cfg.target.empty()) dir = RunDir::default_path(o.cfg.target, o.experiment);
    const std::string saved = dir.empty() ? "" : RunDir::config_path_of(dir);
    std::error_code ec;
    if (!saved.empty() && fs::exists(saved, ec)) {
      std::vector<std::string> args(argv + 1, argv + argc);
      args.insert(args.begin(), {"--config", saved});
      std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
      TrainOptions resumed;
      auto app2 = make_app(resumed);
      try {
        app2->parse(args);
      } catch (const CLI::ParseError&) {
        parse(*app2, argc, argv);  // rethrows reworded when the flags are at fault
        throw UsageError("cannot read '" + saved + "' of the run being resumed");
      }
      if (resumed.run_dir.empty()) resumed.run_dir = dir;
      return resumed;
    }
  }
  return o;
}

int train(int argc, char** argv) {
  bool help = false;
  TrainOptions o = resolve_options(argc, argv, help);
  if (help) return 0;
  TrainConfig& cfg = o.cfg;
  apply_choices(o);
  const RunMode mode = o.resume ? RunMode::Resume : o.force ? RunMode::Replace : RunMode::New;
  // With --resume the run directory is checked before asking for a target.
  if (o.resume && !o.run_dir.empty()) RunDir::check(o.run_dir, mode);
  if (cfg.target.empty()) throw UsageError("--target is required (an image to grow)");
  cfg.validate();
  if (o.run_dir.empty()) o.run_dir = RunDir::default_path(cfg.target, to_string(cfg.experiment));

  RunDir run(o.run_dir, mode);
  const auto device = select_device(cfg.device);
  const int threads = set_threads(cfg.threads);
  const Target target = load_target(cfg.target, cfg.size, cfg.pad);
  spdlog::info("target {}: {}x{} image in a {}x{} grid; device {}, {} thread{}", cfg.target,
               target.image_width, target.image_height, target.grid, target.grid, device.str(),
               threads, threads == 1 ? "" : "s");
  if (target.opaque)
    spdlog::warn("target '{}' has no transparency: the whole square is the shape to grow",
                 cfg.target);

  run.prepare();
  if (run.kept() > 0)
    spdlog::info("--force kept {} entr{} in {} that nca did not write", run.kept(),
                 run.kept() == 1 ? "y" : "ies", o.run_dir);
  const std::string model_path = run.model_path();

  Trainer trainer(cfg, target_tensor(target), device);
  if (trainer.backend() == Backend::Fast)
    spdlog::info("backend fast ({} kernels)", fast_step_isa());
  else
    spdlog::info("backend torch");
  // The iteration model.pt holds on disk (-1: none yet), for the message when a write fails.
  int64_t saved_iteration = -1;
  // A failed write (a full disk, a removed run directory) ends the run with one line that says
  // what failed, what is still on disk, and what to do. Training is not continued past it: a
  // run that cannot save is hours of work that would be lost anyway.
  auto io = [&](const std::function<void()>& write) {
    try {
      write();
    } catch (const std::runtime_error& e) {
      std::string msg = e.what();
      if (run.removed(saved_iteration >= 0)) {
        msg += "; the run directory '" + o.run_dir +
               "' was removed while training, so nothing more can be saved";
      } else if (saved_iteration >= 0) {
        msg += "; " + model_path + " still holds iteration " + std::to_string(saved_iteration) +
               ": once that is fixed, continue with: nca train --run-dir " + o.run_dir +
               " --resume";
      } else {
        msg += "; no model was saved yet";
      }
      throw std::runtime_error(msg);
    }
  };
  if (o.resume) {
    const auto resumed = run.resume(trainer);
    saved_iteration = trainer.iteration();
    if (resumed.pool_iteration >= 0 && resumed.pool_iteration != trainer.iteration())
      spdlog::warn(
          "pool.pt is from iteration {}, model.pt from {} (a save was cut short); "
          "training goes on with that pool",
          resumed.pool_iteration, trainer.iteration());
  }
  io([&] { run.open_loss_log(trainer.iteration()); });
  if (o.resume) spdlog::info("resuming {} at iteration {}", o.run_dir, trainer.iteration());
  io([&] { run.write_config(cfg.to_toml()); });

  g_stop_requested = false;
  // SIGHUP too: a closed terminal or a dropped SSH session must not cost the run.
  for (int sig : kStopSignals) std::signal(sig, on_stop_signal);
  trainer.set_stop_flag(&g_stop_requested);

  auto save = [&] {
    io([&] { run.save(trainer); });
    saved_iteration = trainer.iteration();
  };
  Progress progress(cfg.iters, cfg.log_every);
  spdlog::info("training {} to {} iterations ({}); Ctrl-C saves and stops",
               to_string(cfg.experiment), cfg.iters, o.run_dir);
  while (trainer.iteration() < cfg.iters && !g_stop_requested) {
    const IterationStats s = trainer.step();
    if (s.abandoned) break;
    io([&] { run.append_loss(s); });
    if (s.skipped)
      spdlog::warn(
          "iteration {}: {}; update skipped, the last good weights, optimiser state and "
          "pool kept",
          s.iteration, s.skip_reason);
    const int64_t done = trainer.iteration();
    progress.update(done, s.loss, s.log10_loss, s.seconds);
    if (cfg.snapshot_every > 0 && (done % cfg.snapshot_every == 0 || done == 1))
      io([&] { run.write_pictures(trainer); });
    if (cfg.save_every > 0 && done % cfg.save_every == 0 && done < cfg.iters) {
      save();
      io([&] { run.write_checkpoint(done); });
    }
  }
  progress.finish();
  save();
  if (cfg.snapshot_every > 0) io([&] { run.write_pictures(trainer); });
  if (g_stop_requested) {
    spdlog::info(
        "stopped at iteration {}: saved {}; continue with: nca train --run-dir {} --resume",
        trainer.iteration(), model_path, o.run_dir);
  } else {
    spdlog::info("done: {} iterations, model in {}", trainer.iteration(), model_path);
  }
  for (int sig : kStopSignals) std::signal(sig, SIG_DFL);
  return 0;
}

}  // namespace

int run_train(int argc, char** argv) {
  return guarded("train", [&] { return train(argc, argv); });
}

}  // namespace nca::cli
