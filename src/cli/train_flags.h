// The flags of `nca train`, shared with `nca bench` (which takes those it uses) and with the
// config-parser fuzz target (so that it drives exactly the parser users reach): every
// TrainConfig field as a long flag, --config, and the run-directory flags.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "nca/config.h"

namespace nca::cli {

struct TrainOptions {
  TrainConfig cfg;
  std::string run_dir;
  bool resume = false;
  bool force = false;
  bool new_pool = false;  // --new-pool: resume with a pool of seeds when pool.pt is missing
  int nproc = 0;          // --nproc: local data-parallel processes (0: none started)
  int dist_timeout = 60;  // seconds any collective may wait for the other ranks
  std::string dist_backend = "auto";  // auto | gloo | nccl
  CLI::Option* config_option = nullptr;
  std::vector<std::string> config_only;  // flags add_train_flags left out of the command line
};

// Adds --config and every flag of `nca train` to `app`, bound to `o` (the config's keys through
// add_config_options, nca/config_file.h), except those named in
// `left_out` (e.g. "--force"): a command leaves out the flags it has no use for. They are not
// in its --help, and parse_train_flags refuses them on the command line; a --config file may
// still set them (they are o.config_only), so that a training config serves that command too,
// where they have no effect. A left-out flag that a config cannot set is not added at all.
void add_train_flags(CLI::App& app, TrainOptions& o, const std::vector<std::string>& left_out = {});

// parse() (common.h) for an app built with add_train_flags: also refuses a flag of
// o.config_only on the command line, as an unknown argument (UsageError).
bool parse_train_flags(CLI::App& app, const TrainOptions& o, int argc, char** argv);

}  // namespace nca::cli
