// TrainConfig's keys as CLI11 options, and the one reader of config files: what `nca train`,
// `nca bench` and a `--config FILE` take as flags and keys, and how a run's config.toml (or the
// config a checkpoint holds) is read back. Every key is a long flag (--key) and a config key
// (key = value) of the same name; the enums are bound directly, by their names.
#pragma once

#include <cstddef>
#include <string>

#include <CLI/CLI.hpp>

#include "nca/config.h"

namespace nca {

// The help of the flags that several commands take, worded once so that a flag means the same
// everywhere (tests/cli/test_help.sh compares the commands' help lines).
namespace help {
inline constexpr const char* kDevice = "auto | cpu | cuda | cuda:K (auto: CUDA when available)";
inline constexpr const char* kThreads = "CPU threads (0 = all cores)";
inline constexpr const char* kBackend =
    "auto | torch | fast: how a step runs (auto: fast on the CPU, same results)";
inline constexpr const char* kSeed = "Seed of the one generator all randomness comes from";
}  // namespace help

// The keys in two parts, so that a command can add flags of its own between them in --help:
// Settings, what to train, how, the model and where it runs (target ... backend); then Output, how
// often the run logs, saves and draws (log-every, save-every, snapshot-every).
enum class ConfigPart { Settings, Output };
// Adds the keys of `part` to `app` as options bound to `cfg`, with their help, group and default.
void add_config_options(CLI::App& app, TrainConfig& cfg, ConfigPart part);

// The most a config file may hold: a config is a few dozen short lines.
inline constexpr size_t kMaxConfigBytes = size_t{1} << 20;
// A config file of `app` must be a regular file of at most kMaxConfigBytes whose lines pass
// check_config_text (UsageError otherwise, naming the line); a missing one is left to CLI11.
void check_config_file(const CLI::App& app, const std::string& path);
// Every number option of `app` reads its value exactly as written (check_integer_text,
// check_float_text), on the command line and in a config file alike.
void make_numbers_exact(CLI::App& app);

// The config that TOML text sets, every key it leaves out at its default: the text of a
// config.toml (TrainConfig::to_toml) or of a checkpoint's config. Throws UsageError saying what
// is wrong (a bad line, an unknown key, a value of the wrong kind); not validated.
TrainConfig parse_train_config(const std::string& text);
// parse_train_config of the file at `path`, checked as check_config_file checks a --config
// file (a missing or unreadable file is a UsageError too).
TrainConfig read_train_config(const std::string& path);

}  // namespace nca
