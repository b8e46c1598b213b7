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
  add_config_options(app, o.cfg, ConfigPart::Settings);
  const std::string run = "Run";
  app.add_option("--run-dir", o.run_dir, "Run directory (default runs/<target>-<experiment>)")
      ->group(run);
  app.add_flag("--resume", o.resume, "Continue the run in the run directory")->group(run);
  app.add_flag("--force", o.force, "Replace an existing run directory")->group(run);
  app.add_flag("--new-pool", o.new_pool,
               "With --resume: when pool.pt is missing, go on with a new pool of seeds")
      ->configurable(false)
      ->group(run);
  const std::string dist =
      "Data-parallel (docs/design.md §8; or a launcher's RANK, WORLD_SIZE, ...)";
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
  add_config_options(app, o.cfg, ConfigPart::Output);

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

}  // namespace nca::cli
