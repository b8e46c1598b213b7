// The flags of `nca train` and `nca bench`.
#include "train_flags.h"

#include <algorithm>
#include <stdexcept>

#include "common.h"
#include "nca/errors.h"

namespace nca::cli {

void add_train_flags(CLI::App& app, TrainOptions& o, const std::vector<std::string>& left_out) {
  o.config_option = app.set_config("--config", "",
                                   "TOML file setting any of the keys below (flag names without "
                                   "--); flags given as well override it");
  app.allow_config_extras(CLI::config_extras_mode::error);
  auto& c = o.cfg;
  auto& m = o.cfg.model;
  const std::string what = "What to train";
  app.add_option("--target", c.target, "Target image (PNG, BMP, TGA, GIF)")->group(what);
  app.add_option("--experiment", o.experiment, "growing | persistent | regenerating")
      ->capture_default_str()
      ->group(what);
  app.add_option("--size", c.size, "Shrink the target to fit SIZE x SIZE pixels")
      ->capture_default_str()
      ->group(what);
  app.add_option("--pad", c.pad, "Empty border around the target (grid = size + 2 pad)")
      ->capture_default_str()
      ->group(what);
  const std::string training = "Training";
  app.add_option("--iters", c.iters, "Training iterations")->capture_default_str()->group(training);
  app.add_option("--batch", c.batch, "Samples per iteration")
      ->capture_default_str()
      ->group(training);
  app.add_option("--pool", c.pool, "Sample pool size")->capture_default_str()->group(training);
  app.add_option("--min-steps", c.min_steps, "Shortest rollout (inclusive)")
      ->capture_default_str()
      ->group(training);
  app.add_option("--max-steps", c.max_steps, "Longest rollout (exclusive)")
      ->capture_default_str()
      ->group(training);
  app.add_option("--lr", c.lr, "Adam learning rate")->capture_default_str()->group(training);
  app.add_option("--lr-decay-at", c.lr_decay_at,
                 "Iteration from which lr is multiplied by lr-decay")
      ->capture_default_str()
      ->group(training);
  app.add_option("--lr-decay", c.lr_decay, "Learning-rate factor after lr-decay-at")
      ->capture_default_str()
      ->group(training);
  app.add_option("--damage", c.damage, "Regenerating: lowest-loss samples cut by a random circle")
      ->capture_default_str()
      ->group(training);
  app.add_option("--seed", c.seed, help::kSeed)->capture_default_str()->group(training);
  const std::string model = "Model";
  app.add_option("--hidden", m.hidden, "Hidden width of the update network")
      ->capture_default_str()
      ->group(model);
  app.add_option("--fire-rate", m.fire_rate, "Probability that a cell updates in a step")
      ->capture_default_str()
      ->group(model);
  app.add_option("--alive-threshold", m.alive_threshold,
                 "Alive: max alpha over the 3x3 neighbourhood above this")
      ->capture_default_str()
      ->group(model);
  app.add_option("--perception", o.perception,
                 "full (identity, sobel x/y, laplace) | distill (no laplace)")
      ->capture_default_str()
      ->group(model);
  const std::string run = "Run";
  app.add_option("--device", c.device, help::kDevice)->capture_default_str()->group(run);
  app.add_option("--threads", c.threads, help::kThreads)->capture_default_str()->group(run);
  app.add_option("--backend", o.backend, help::kBackend)->capture_default_str()->group(run);
  app.add_option("--run-dir", o.run_dir, "Run directory (default runs/<target>-<experiment>)")
      ->group(run);
  app.add_flag("--resume", o.resume, "Continue the run in the run directory")->group(run);
  app.add_flag("--force", o.force, "Replace an existing run directory")->group(run);
  app.add_flag("--new-pool", o.new_pool,
               "With --resume: when pool.pt is missing, go on with a new pool of seeds")
      ->configurable(false)
      ->group(run);
  const std::string dist = "Data-parallel (DESIGN §8; or a launcher's RANK, WORLD_SIZE, ...)";
  app.add_option("--nproc", o.nproc,
                 "Train with N local processes over Gloo on 127.0.0.1 (batch and pool are "
                 "global, split evenly; --threads is per process)")
      ->check(CLI::Range(1, 256))
      ->configurable(false)  // a flag only: the processes it starts read the same config file
      ->group(dist);
  app.add_option("--dist-timeout", o.dist_timeout,
                 "Seconds a process waits for the others (rendezvous, each collective) before "
                 "it stops with one line")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str()
      ->group(dist);
  app.add_option("--dist-backend", o.dist_backend,
                 "auto | gloo | nccl: what carries the gradients (auto: NCCL when each process "
                 "has a GPU of its own and this build has NCCL, else Gloo)")
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}))
      ->capture_default_str()
      ->group(dist);
  app.add_option("--log-every", c.log_every, "Log line every N iterations (when not a terminal)")
      ->capture_default_str()
      ->group(run);
  app.add_option("--save-every", c.save_every,
                 "Checkpoint every N iterations into checkpoints/ (0: only model.pt at the end)")
      ->capture_default_str()
      ->group(run);
  app.add_option("--snapshot-every", c.snapshot_every,
                 "Pictures (pool, batch, loss curve) every N iterations (0: off)")
      ->capture_default_str()
      ->group(run);

  for (const std::string& name : left_out) {
    CLI::Option* opt = app.get_option_no_throw(name);
    if (!opt) throw std::logic_error("add_train_flags: no flag " + name + " to leave out");
    if (!opt->get_configurable()) {
      app.remove_option(opt);
      continue;
    }
    opt->group("");  // hidden from --help
    o.config_only.push_back(name);
  }
}

bool parse_train_flags(CLI::App& app, const TrainOptions& o, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;  // what follows is not an option, to CLI11 either
    for (const std::string& name : o.config_only)
      if (arg == name || arg.rfind(name + "=", 0) == 0)
        throw UsageError("unknown argument '" + excerpt(arg) + "' (see --help)");
  }
  return parse(app, argc, argv);
}

void apply_choices(TrainOptions& o) {
  o.cfg.experiment = parse_experiment(o.experiment);
  o.cfg.model.perception = parse_perception(o.perception);
  o.cfg.backend = parse_backend(o.backend);
}

}  // namespace nca::cli
