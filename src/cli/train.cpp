// `nca train`: resolve the config (defaults < --config file < flags), run it (nca/training_run.h)
// with a progress display and its cost and summary lines; Ctrl-C, SIGTERM or SIGHUP save and
// stop, --resume goes on.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <signal.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common.h"
#include "nca/config_file.h"
#include "nca/distributed.h"
#include "nca/errors.h"
#include "nca/limits.h"
#include "nca/progress.h"
#include "nca/run_dir.h"
#include "nca/training_run.h"
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

// SIGINT, SIGTERM and SIGHUP (a closed terminal, a dropped SSH session) request a stop. A
// SIGHUP ignored by whoever started nca (nohup) stays ignored: that is what nohup asks for.
void install_stop_handlers() {
  for (int sig : kStopSignals) {
    struct sigaction old {};
    if (sig == SIGHUP && ::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN)
      continue;
    std::signal(sig, on_stop_signal);
  }
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

// The run directory the flags name, else the default one of the target ("" when neither is given).
std::string named_run_dir(const TrainOptions& o) {
  if (!o.run_dir.empty() || o.cfg.target.empty()) return o.run_dir;
  return RunDir::default_path(o.cfg.target, to_string(o.cfg.experiment));
}

// Parses argv; with --resume and no --config, the run directory's config.toml is the base that
// the flags override, so a resumed run keeps its settings.
TrainOptions resolve_options(int argc, char** argv, bool& help) {
  TrainOptions o;
  auto app = make_app(o);
  help = !parse(*app, argc, argv);
  if (help || !o.resume || o.config_option->count() > 0) return o;
  const std::string dir = named_run_dir(o);
  if (dir.empty()) return o;
  check_config_file(*app, RunDir::config_path_of(dir));
  const std::optional<TrainConfig> saved = saved_run_config(dir);
  if (!saved) return o;
  TrainOptions resumed;
  resumed.cfg = *saved;
  auto resumed_app = make_app(resumed);
  parse(*resumed_app, argc, argv);  // only the flags given change what config.toml set
  if (resumed.run_dir.empty()) resumed.run_dir = dir;
  return resumed;
}

void require_target(const TrainConfig& cfg) {
  if (cfg.target.empty()) throw UsageError("--target is required (an image to grow)");
}

// `--nproc N`: what every rank would refuse alike is refused once, here; then the N processes
// start with this command line less --nproc.
int launch_processes(const TrainOptions& o, int argc, char** argv) {
  require_target(o.cfg);
  check_before_launch(o.cfg, o.nproc, o.dist_backend);
  std::vector<std::string> args{invoked_as()};
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--nproc") {
      ++i;
    } else if (a.rfind("--nproc=", 0) != 0) {
      args.push_back(a);
    }
  }
  if (o.nproc > 1) spdlog::info("starting {} processes on 127.0.0.1 (Gloo)", o.nproc);
  return launch_local(o.nproc, args);
}

// The run the flags ask for: its target (a resumed run's is in its config.toml), a valid config
// and its run directory, checked before anything is loaded.
RunRequest request_of(TrainOptions& o) {
  TrainConfig& cfg = o.cfg;
  if (o.resume && o.force)
    throw UsageError("--resume continues the run and --force replaces it: give one of them");
  const RunMode mode = o.resume ? RunMode::Resume : o.force ? RunMode::Replace : RunMode::New;
  // With --resume the run directory is checked before asking for a target.
  if (o.resume && !o.run_dir.empty()) RunDir::check(o.run_dir, mode);
  // --resume with a --config of its own: the target is still the run's.
  if (o.resume && cfg.target.empty() && !o.run_dir.empty())
    if (const auto saved = saved_run_config(o.run_dir)) cfg.target = saved->target;
  require_target(cfg);
  cfg.validate();
  if (o.run_dir.empty()) o.run_dir = RunDir::default_path(cfg.target, to_string(cfg.experiment));
  if (o.new_pool && !o.resume) throw UsageError("--new-pool goes with --resume");
  RunRequest r;
  r.cfg = cfg;
  r.run_dir = o.run_dir;
  r.mode = mode;
  r.new_pool = o.new_pool;
  r.dist_timeout = o.dist_timeout;
  r.dist_backend = o.dist_backend;
  return r;
}

void tell(Notice level, const std::string& what) {
  switch (level) {
    case Notice::Debug:
      spdlog::debug("{}", what);
      return;
    case Notice::Info:
      spdlog::info("{}", what);
      return;
    case Notice::Warning:
      spdlog::warn("{}", what);
      return;
  }
}

// What the run will cost, before it starts: sizes, time, memory, disk; and a warning when the
// target loses its details.
void report_cost(const CostEstimate& c, const TrainConfig& cfg) {
  std::string sizes;
  if (c.from_image) {
    sizes = fmt::format("target {}x{}", c.source_width, c.source_height);
    if (c.image_width != c.source_width || c.image_height != c.source_height)
      sizes += fmt::format(" shrunk to {}x{}", c.image_width, c.image_height);
    sizes += fmt::format(" in a {}x{} grid", c.grid, c.grid);
  } else {
    sizes = fmt::format("a {}x{} grid", c.grid, c.grid);
  }
  const MemoryNeed& m = c.memory;
  const std::string processes =
      m.processes > 1 ? fmt::format(" for {} processes", m.processes) : "";
  const std::string memory =
      m.gpu > 0 ? fmt::format("peak memory about {} on the host and {} on the GPU{}",
                              limits::format_bytes(m.host), limits::format_bytes(m.gpu), processes)
                : fmt::format("peak memory about {}{}", limits::format_bytes(m.host), processes);
  const int64_t left = c.iterations_left;
  spdlog::info(
      "cost: {}; about {} for {} iteration{} ({:.1f} ms a rollout step of grown "
      "states); {}; about {} on disk per save (pool.pt {}, model.pt {})",
      sizes, format_duration(c.iteration_seconds * static_cast<double>(left)), left,
      left == 1 ? "" : "s", c.step_seconds * 1e3, memory,
      limits::format_bytes(c.model_bytes + c.pool_bytes), limits::format_bytes(c.pool_bytes),
      limits::format_bytes(c.model_bytes));
  if (!c.from_image) return;
  const double shrink = std::max(static_cast<double>(c.source_width) / c.image_width,
                                 static_cast<double>(c.source_height) / c.image_height);
  if (shrink > 2)
    spdlog::warn(
        "target {}x{} is shrunk {:.1f}x to {}x{} (--size {}): its details are lost; "
        "a larger --size keeps more (time and memory grow with its square)",
        c.source_width, c.source_height, shrink, c.image_width, c.image_height, cfg.size);
}

// The last lines: how the run ended, and what to do next.
void report_end(TrainingRun& run, const Progress& progress, bool stopped) {
  std::string summary;
  if (progress.iterations_run() > 0) {
    const RecentMean& recent = progress.recent_log10_loss();
    summary = fmt::format(
        "{} iteration{} in {} ({:.2f} it/s), log10 loss {:.3f} (mean of the last {})",
        progress.iterations_run(), progress.iterations_run() == 1 ? "" : "s",
        format_duration(progress.elapsed()),
        static_cast<double>(progress.iterations_run()) / std::max(progress.elapsed(), 1e-9),
        recent.mean(), recent.size());
  }
  const std::string dir = shell_word(run.run_dir());
  const int64_t done = run.trainer().iteration();
  if (stopped) {
    spdlog::info(
        "stopped at iteration {}: saved {}; continue with: {} train --run-dir {} --resume{}{}",
        done, run.model_path(), program_name(), dir,
        run.parallel() ? " (with the same number of processes)" : "",
        summary.empty() ? "" : " (this time: " + summary + ")");
  } else {
    spdlog::info("done: {} iteration{}, model in {}{}", done, done == 1 ? "" : "s",
                 run.model_path(), summary.empty() ? "" : "; " + summary);
  }
  const fs::path base(run.run_dir());
  spdlog::info(
      "next: {4} grow --model {0} --out {1}  |  {4} regen --model {0} --out {2}  |  "
      "{4} export --model {0} --web {3}",
      dir, shell_word((base / "grow").string()), shell_word((base / "regen").string()),
      shell_word((base / "web").string()), program_name());
}

// Runs the iterations with the progress display (rank 0's), and saves at the end or on a stop.
// Returns whether the run stopped before its iterations.
bool run_iterations(TrainingRun& run, std::optional<Progress>& progress) {
  while (run.running()) {
    const IterationStats s = run.step();
    if (s.abandoned) break;
    if (s.skipped && progress) progress->interrupt();
    if (s.skipped)
      spdlog::warn(
          "iteration {}: {}; update skipped, the last good weights, optimiser state and "
          "pool kept",
          s.iteration, s.skip_reason);
    if (progress) progress->update(run.trainer().iteration(), s.loss, s.log10_loss, s.seconds);
    run.write_due();
  }
  if (progress) progress->finish();
  return run.finish();
}

int train(int argc, char** argv) {
  bool help = false;
  TrainOptions o = resolve_options(argc, argv, help);
  if (help) return 0;
  const auto env = launch_env_from_environment();
  if (o.nproc > 0) {
    if (env)
      throw UsageError(
          "--nproc starts its own processes: leave it out under a launcher that "
          "sets RANK and WORLD_SIZE");
    return launch_processes(o, argc, argv);
  }
  // A worker torchrun restarted after a failure resumes the run, when there is one to resume.
  if (!o.resume && !o.force && restarted_with_run_to_resume(named_run_dir(o))) {
    std::vector<std::string> args(argv, argv + argc);
    args.push_back("--resume");
    std::vector<char*> resumed_argv;
    for (auto& a : args) resumed_argv.push_back(a.data());
    o = resolve_options(static_cast<int>(resumed_argv.size()), resumed_argv.data(), help);
  }
  const RunRequest request = request_of(o);
  const bool parallel = env && env->world_size > 1;
  check_shards(request.cfg, parallel ? env->world_size : 1);
  if (parallel && env->rank != 0) spdlog::set_level(spdlog::level::warn);  // rank 0 tells the story
  const auto device = select_device(request.cfg.device, parallel ? env->local_rank : 0);
  TrainingRun run(request, env, device, &g_stop_requested, tell);
  // Before the run directory exists: a stop request from here on is kept, and the run stops
  // at its first chance with model.pt saved (a signal that killed the process between
  // creating the directory and the first save left one neither --resume nor a rerun took).
  install_stop_handlers();
  // Several processes on one machine share its cores: by default each takes its part.
  int threads = request.cfg.threads;
  if (threads == 0 && parallel)
    threads = std::max(1, limits::cores() / local_processes(env->world_size));
  run.open(set_threads(threads));
  spdlog::info("backend {}", run.trainer().stepper()->name());
  // Rank 0 measures its share; every rank runs alike.
  std::optional<Progress> progress;
  double grown_iteration = 0;  // seconds an iteration of grown states takes (pool runs)
  if (run.writer()) {
    const CostEstimate cost = run.estimate_cost();
    report_cost(cost, request.cfg);
    grown_iteration = cost.grown_iteration_seconds;
  }
  run.begin();
  if (run.writer())
    progress.emplace(run.trainer().iteration(), request.cfg.iters, request.cfg.log_every,
                     grown_iteration);
  spdlog::info("training {} to {} iteration{} ({}); Ctrl-C saves and stops",
               to_string(request.cfg.experiment), request.cfg.iters,
               request.cfg.iters == 1 ? "" : "s", request.run_dir);
  const bool stopped = run_iterations(run, progress);
  if (run.writer()) report_end(run, *progress, stopped);
  return 0;
}

}  // namespace

int run_train(int argc, char** argv) {
  return guarded("train", [&] { return train(argc, argv); });
}

}  // namespace nca::cli
