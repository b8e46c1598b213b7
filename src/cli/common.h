// What the subcommands share: error handling and exit codes, CLI11 error wording, device and
// thread selection, logging, and the progress display.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <c10/core/Device.h>
#include <CLI/CLI.hpp>

#include "nca/progress.h"

namespace nca::cli {

inline constexpr int kExitRuntime = 1;  // something failed while working
inline constexpr int kExitUsage = 2;    // the user's input is wrong

// Thrown to exit with `code` and no line of its own: a data-parallel rank that stops because
// another rank failed (that rank's line says why).
struct QuietExit {
  int code = kExitRuntime;
};

// The help of the flags that several commands take, worded once so that a flag means the same
// everywhere (tests/cli/test_help.sh compares the commands' help lines).
namespace help {
inline constexpr const char* kDevice = "auto | cpu | cuda | cuda:K (auto: CUDA when available)";
inline constexpr const char* kThreads = "CPU threads (0 = all cores)";
inline constexpr const char* kBackend =
    "auto | torch | fast: how a step runs (auto: fast on the CPU, same results)";
inline constexpr const char* kSeed = "Seed of the one generator all randomness comes from";
// --model of a command whose default is the shipped data/models/<default_name>.
std::string model(const std::string& default_name);
}  // namespace help

// Runs body; turns exceptions into one "nca <command>: error: ..." line on stderr and the exit
// code (UsageError and CLI11 parse errors: 2, anything else: 1; QuietExit: its code, no line).
int guarded(const std::string& command, const std::function<int()>& body);

// The most a --config file may hold: a config is a few dozen short lines.
inline constexpr size_t kMaxConfigBytes = size_t{1} << 20;
// A --config file of `app` must be a regular file of at most kMaxConfigBytes whose lines pass
// check_config_text (UsageError otherwise, naming the line); a missing one is left to CLI11.
void check_config_file(const CLI::App& app, const std::string& path);

// Every number option of `app` reads its value exactly as written (check_integer_text,
// check_float_text), on the command line and in a config file alike. parse() calls it.
void make_numbers_exact(CLI::App& app);

// Parses argv with CLI11; rewords CLI11's errors into one readable line (thrown as UsageError).
// Returns false when help was printed (the caller exits 0).
bool parse(CLI::App& app, int argc, char** argv);

// "auto" picks CUDA when LibTorch has it, else the CPU. Throws UsageError for an unknown name,
// std::runtime_error for CUDA on a build or machine without it.
// `default_index`: the GPU that "auto" and "cuda" mean (a data-parallel rank's LOCAL_RANK;
// modulo the GPUs there are, so that several ranks can share one).
c10::Device select_device(const std::string& name, int default_index = 0);

// Sets LibTorch's intra-op thread count (0 = all cores; LibTorch's own default here is one).
int set_threads(int threads);

// spdlog to stderr with a short pattern: logs and progress on stderr, results (regen's figures,
// bench's table) on stdout, so that `2>/dev/null` quiets the rest and a pipe takes the results.
void setup_logging();

// The width of the terminal on stderr ($COLUMNS, else 80, when it does not say).
int terminal_width();

// Training progress: on a terminal, one tqdm-style line on stderr redrawn in place (fitted to the
// terminal's width, at most ~10 times a second); otherwise a log line every `log_every`
// iterations. Keeps the numbers of the summary line.
class Progress {
 public:
  // Iterations `first`..`total` are to run; `floor_seconds`: see EtaEstimator.
  Progress(int64_t first, int64_t total, int log_every, double floor_seconds = 0);
  // Reports iteration `done` (count of completed iterations) with its metrics.
  void update(int64_t done, double loss, double log10_loss, double seconds_per_iter);
  // Clears the terminal line, so that a log line can be printed (the next update redraws).
  void interrupt();
  void finish();  // ends the terminal line

  int64_t iterations_run() const { return done_ - first_; }
  double elapsed() const;
  const RecentMean& recent_loss() const { return recent_; }

 private:
  int64_t first_, total_, done_;
  int log_every_;
  bool tty_;
  bool drawn_ = false;
  EtaEstimator eta_;
  RecentMean recent_{100};
  std::chrono::steady_clock::time_point start_, last_draw_{};
};

}  // namespace nca::cli
