// `nca bench`: how fast training and growing run here. Takes the flags of `nca train` that it
// uses (a training config serves as it is: the keys of the others are ignored); starts
// from a trained model and a pool grown by it (so the alive region is as large as in real
// training), runs real training iterations (pool, damage, backward pass, optimiser step) and
// reports seconds per iteration, cell-steps per second (counted on the full grid, whatever the
// backend skips), grow throughput and the peak resident memory of the process.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <torch/torch.h>
#include <unistd.h>

#include "commands.h"
#include "common.h"
#include "frames.h"
#include "nca/checkpoint.h"
#include "nca/errors.h"
#include "nca/fast_step.h"
#include "nca/image_io.h"
#include "nca/stepper.h"
#include "nca/trainer.h"
#include "train_flags.h"

namespace nca::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Peak resident set size of this process so far, in MiB (Linux reports KiB).
double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// Flags of `nca train` that bench has no use for: the model's settings come from --model, and
// bench writes no run directory, checkpoints, pictures or log lines, and starts no processes.
const std::vector<std::string> kNotForBench = {
    "--hidden",       "--fire-rate",    "--alive-threshold", "--perception", "--arch",
    "--run-dir",      "--resume",       "--force",           "--new-pool",   "--nproc",
    "--dist-timeout", "--dist-backend", "--log-every",       "--save-every", "--snapshot-every"};

struct BenchOptions {
  TrainOptions train;
  std::string model;  // "" = the shipped regenerating lizard
  int warmup = 2;
  int grow_steps = 300;
  bool json = false;
  std::string kernels;  // a fast-step kernel target to force, "list", or "" for the best
};

struct BenchResult {
  double sec_per_iter = 0;
  double train_cell_steps_per_s = 0;
  double grow_cell_steps_per_s = 0;
  double peak_rss_mb = 0;
  double mean_steps = 0;
  double alive_fraction = 0;  // of the grown states' cells: how much of the grid is alive
  double first_loss = 0, last_loss = 0;
  // What was measured: for the report.
  std::string backend, device;  // "fast (avx3 kernels)", "cuda:0"
  std::string kernels;          // the fast step's kernel target, "" for the torch backend
  bool fast = false;
  int threads = 0, grow_steps = 0;
  int64_t batch = 0, grid = 0, iters = 0;
};

// The results on stdout: a table, and with --json one line a script reads.
void print_result(const BenchResult& r, bool json) {
  const bool gpu = r.device.rfind("cuda", 0) == 0;
  std::fflush(stdout);
  std::printf("\n%-34s %s\n", "backend", r.backend.c_str());
  std::printf("%-34s %ld x %ld x %ld, %d thread%s\n", "batch x grid", static_cast<long>(r.batch),
              static_cast<long>(r.grid), static_cast<long>(r.grid), r.threads,
              r.threads == 1 ? "" : "s");
  std::printf("%-34s %.1f%% of the grid (after %d steps)\n", "alive cells in grown states",
              100 * r.alive_fraction, r.grow_steps);
  std::printf("%-34s %ld (mean rollout %.1f steps)\n", "training iterations measured",
              static_cast<long>(r.iters), r.mean_steps);
  std::printf("%-34s %.4f\n", "seconds per training iteration", r.sec_per_iter);
  std::printf("%-34s %.4g\n", "training cell-steps per second", r.train_cell_steps_per_s);
  std::printf("%-34s %.4g\n", "grow cell-steps per second", r.grow_cell_steps_per_s);
  std::printf("%-34s %.0f%s\n", "peak resident host memory (MB)", r.peak_rss_mb,
              gpu ? " (the GPU's own memory is not counted)" : "");
  std::printf("%-34s %.5f -> %.5f\n", "loss (first -> last measured)", r.first_loss, r.last_loss);
  if (json)
    std::printf(
        "{\"backend\": \"%s\", \"device\": \"%s\", \"threads\": %d, \"batch\": %ld, "
        "\"grid\": %ld, \"iters\": %ld, \"mean_steps\": %.2f, \"sec_per_iter\": %.6f, "
        "\"train_cell_steps_per_s\": %.6g, \"grow_cell_steps_per_s\": %.6g, "
        "\"peak_rss_mb\": %.1f, \"loss\": %.6g, \"alive_fraction\": %.4f, \"kernels\": %s}\n",
        r.fast ? "fast" : "torch", r.device.c_str(), r.threads, static_cast<long>(r.batch),
        static_cast<long>(r.grid), static_cast<long>(r.iters), r.mean_steps, r.sec_per_iter,
        r.train_cell_steps_per_s, r.grow_cell_steps_per_s, r.peak_rss_mb, r.last_loss,
        r.alive_fraction, r.fast ? ("\"" + r.kernels + "\"").c_str() : "null");
  std::fflush(stdout);
}

// Grows a batch of seeds for `grow_steps` steps (the grow measurement, into `r`) and fills the
// trainer's pool with the grown states.
void grow_pool(Trainer& trainer, int grow_steps, BenchResult& r) {
  const TrainConfig& cfg = trainer.config();
  const Stepper& stepper = *trainer.stepper();
  const int64_t g = cfg.grid(), n = cfg.batch;
  const double cells = static_cast<double>(n) * static_cast<double>(g) * static_cast<double>(g);
  at::Tensor grown;
  {
    torch::NoGradGuard no_grad;
    auto& model = trainer.model();
    auto x = seed_state(n, cfg.model.channels, g, g).to(trainer.target().device());
    const auto t0 = Clock::now();
    for (int s = 0; s < grow_steps; ++s) x = stepper.step(*model, x, trainer.generator());
    x = x.cpu().contiguous();
    r.grow_cell_steps_per_s = cells * grow_steps / seconds_since(t0);
    grown = x;
    r.alive_fraction =
        alive_mask(grown, cfg.model.alive_threshold).to(torch::kFloat).mean().item<double>();
  }
  if (auto* pool = trainer.pool()) {
    // In place, a batch at a time: a second pool-sized tensor would inflate the peak memory.
    for (int64_t i = 0; i < pool->size(); i += n) {
      const int64_t k = std::min<int64_t>(n, pool->size() - i);
      pool->commit(torch::arange(i, i + k, torch::kLong), grown.slice(0, 0, k));
    }
  }
}

// Runs `warmup` training iterations, then the config's iterations measured (into `r`).
void measure_training(Trainer& trainer, int warmup, BenchResult& r) {
  const TrainConfig& cfg = trainer.config();
  const int64_t g = cfg.grid(), n = cfg.batch;
  const double cells = static_cast<double>(n) * static_cast<double>(g) * static_cast<double>(g);
  // A measurement takes minutes at the reference setting: on a terminal, say where it is (on
  // stderr, in place; the results go to stdout).
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  auto progress = [&](const char* phase, int64_t done, int64_t total) {
    if (!tty) return;
    std::fprintf(stderr, "\r\033[Kbench: %s %ld/%ld", phase, static_cast<long>(done),
                 static_cast<long>(total));
    if (done == total) std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  };
  for (int i = 0; i < warmup; ++i) {
    progress("warm-up iteration", i + 1, warmup);
    trainer.step();
  }
  double seconds = 0, cell_steps = 0, steps = 0;
  for (int64_t i = 0; i < cfg.iters; ++i) {
    progress("measured iteration", i + 1, cfg.iters);
    const auto t0 = Clock::now();
    const IterationStats s = trainer.step();
    seconds += seconds_since(t0);
    cell_steps += cells * s.steps;
    steps += s.steps;
    if (i == 0) r.first_loss = s.loss;
    r.last_loss = s.loss;
  }
  progress("measured iteration", cfg.iters, cfg.iters);
  r.sec_per_iter = seconds / static_cast<double>(cfg.iters);
  r.train_cell_steps_per_s = cell_steps / seconds;
  r.mean_steps = steps / static_cast<double>(cfg.iters);
}

int bench(int argc, char** argv) {
  BenchOptions o;
  // The shipped lizard (found from any working directory) unless --target says otherwise.
  const char* kShippedTarget = "data/lizard.png";
  o.train.cfg.target = kShippedTarget;
  o.train.cfg.iters = 10;
  CLI::App app(
      "Measure training and growing speed and peak memory: real training iterations of the "
      "chosen experiment, from a trained model and a pool grown by it. Takes the flags of "
      "`nca train` that shape the training; the model's settings (hidden, perception, arch, "
      "fire rate, alive threshold) come from --model (a Distill model file too). A training "
      "--config serves as it is: its keys "
      "for what bench does not do (those model settings, the run directory, checkpoints, "
      "pictures, logging, data-parallel) are ignored.",
      "nca bench");
  app.get_formatter()->column_width(32);
  add_train_flags(app, o.train, kNotForBench);
  app.get_option("--target")
      ->description("Target image (PNG, BMP, TGA, GIF; default: the shipped data/lizard.png)");
  app.get_option("--iters")->description("Training iterations measured");
  const std::string b = "Bench";
  app.add_option("--model", o.model, help::model("lizard-regenerating.pt"))->group(b);
  app.add_option("--warmup", o.warmup, "Iterations run before measuring")
      ->capture_default_str()
      ->group(b);
  app.add_option("--grow-steps", o.grow_steps,
                 "Steps the pool's states are grown from seeds (also the grow measurement)")
      ->capture_default_str()
      ->group(b);
  app.add_flag("--json", o.json, "Also print one JSON object with the results on the last line")
      ->group(b);
  app.add_option("--kernels", o.kernels,
                 "The fast step's kernels: a Highway target this CPU runs (default: the best), "
                 "or 'list' to print those targets, best first")
      ->group(b);
  if (!parse_train_flags(app, o.train, argc, argv)) return 0;
  if (o.kernels == "list") {
    for (const auto& t : fast_step_targets()) std::printf("%s\n", t.c_str());
    return 0;
  }
  if (!o.kernels.empty()) {
    try {
      use_fast_step_target(o.kernels);
    } catch (const UsageError& e) {
      throw UsageError(std::string("--kernels: ") + e.what() + " (or list)");
    }
  }
  TrainConfig& cfg = o.train.cfg;
  if (o.warmup < 0) throw UsageError("--warmup must be zero or more");
  if (o.grow_steps <= 0) throw UsageError("--grow-steps must be positive");

  if (cfg.target == kShippedTarget)
    if (std::string found = find_shipped(kShippedTarget); !found.empty()) cfg.target = found;
  const std::string model_path = model_path_or_default(o.model, "lizard-regenerating.pt");
  std::error_code ec;
  if (!fs::exists(model_path, ec))
    throw UsageError("model '" + model_path +
                     "' not found: pass --model with a model file or a run directory of "
                     "`nca train`");
  CheckpointInfo info = read_checkpoint_info(model_path);
  cfg.model = info.model;
  cfg.validate();

  const auto device = select_device(cfg.device);
  const int threads = set_threads(cfg.threads);
  const Target target = load_target(cfg.target, cfg.size, cfg.pad);
  Trainer trainer(cfg, target_tensor(target), device);
  load_checkpoint(model_path, trainer.model());  // weights only: a fresh optimiser
  const Stepper& stepper = *trainer.stepper();
  const std::string backend = stepper.name();
  spdlog::info("bench: {} from {}, {}x{} grid, batch {}, device {}, {} thread{}, backend {}",
               to_string(cfg.experiment), model_path, target.grid, target.grid, cfg.batch,
               device.str(), threads, threads == 1 ? "" : "s", backend);

  BenchResult r;
  grow_pool(trainer, o.grow_steps, r);
  measure_training(trainer, o.warmup, r);
  r.peak_rss_mb = peak_rss_mb();
  r.backend = backend;
  r.fast = stepper.backend() == Backend::Fast;
  if (r.fast) r.kernels = fast_step_target();
  r.device = device.str();
  r.threads = threads;
  r.batch = cfg.batch;
  r.grid = cfg.grid();
  r.iters = cfg.iters;
  r.grow_steps = o.grow_steps;
  print_result(r, o.json);
  return 0;
}

}  // namespace

int run_bench(int argc, char** argv) {
  return guarded("bench", [&] { return bench(argc, argv); });
}

}  // namespace nca::cli
