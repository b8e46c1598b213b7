// The flags of `nca train`: every TrainConfig field as a long flag, --config, and the
// run-directory flags. Shared by the command and by the config-parser fuzz target, so that the
// fuzzer drives exactly the parser users reach.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "nca/config.h"

namespace nca::cli {

struct TrainOptions {
  TrainConfig cfg;
  std::string experiment = "regenerating";
  std::string perception = "full";
  std::string run_dir;
  bool resume = false;
  bool force = false;
  CLI::Option* config_option = nullptr;
};

// Adds --config and every flag of `nca train` to `app`, bound to `o`.
void add_train_flags(CLI::App& app, TrainOptions& o);

// Turns the parsed choice strings (experiment, perception) into o.cfg's enums; throws
// UsageError naming the choices.
void apply_choices(TrainOptions& o);

}  // namespace nca::cli
