// What the subcommands share: error handling and exit codes, CLI11 error wording, device and
// thread selection, logging, and the progress display.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <c10/core/Device.h>
#include <CLI/CLI.hpp>

#include "nca/config_file.h"
#include "nca/errors.h"
#include "nca/progress.h"

namespace nca::cli {

using nca::kExitRuntime;
using nca::kExitUsage;
using nca::QuietExit;

// The help of the flags that several commands take (nca/config_file.h), and of --model.
namespace help {
using nca::help::kBackend;
using nca::help::kDevice;
using nca::help::kSeed;
using nca::help::kThreads;
// --model of a command whose default is the shipped data/models/<default_name>.
std::string model(const std::string& default_name);
}  // namespace help

// Runs body; turns exceptions into one "nca <command>: error: ..." line on stderr and the exit
// code (UsageError and CLI11 parse errors: 2, anything else: 1; QuietExit: its code, no line).
int guarded(const std::string& command, const std::function<int()>& body);

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
  // The log10 losses of the last 100 iterations; their mean is the loss a summary gives, as the
  // loss picture's title does.
  const RecentMean& recent_log10_loss() const { return recent_; }

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
