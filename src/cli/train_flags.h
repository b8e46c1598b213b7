// The flags of `nca train`, shared with `nca bench` (which takes the same ones) and with the
// config-parser fuzz target (so that it drives exactly the parser users reach): every
// TrainConfig field as a long flag, --config, and the run-directory flags.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "nca/config.h"

namespace nca::cli {

struct TrainOptions {
  TrainConfig cfg;
  std::string experiment = "regenerating";
  std::string perception = "full";
  std::string backend = "auto";
  std::string run_dir;
  bool resume = false;
  bool force = false;
  bool new_pool = false;     // --new-pool: resume with a pool of seeds when pool.pt is missing
  int nproc = 0;             // --nproc: local data-parallel processes (0: none started)
  int dist_timeout = 60;     // seconds any collective may wait for the other ranks
  std::string dist_backend = "auto";  // auto | gloo | nccl
  CLI::Option* config_option = nullptr;
};

// Adds --config and every flag of `nca train` to `app`, bound to `o`.
void add_train_flags(CLI::App& app, TrainOptions& o);

// Turns the parsed choice strings (experiment, perception, backend) into o.cfg's enums; throws
// UsageError naming the choices.
void apply_choices(TrainOptions& o);

}  // namespace nca::cli
