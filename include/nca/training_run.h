// The lifecycle of one training run (docs/design.md §7, §8): start or resume it in its run
// directory, run its iterations with their loss rows, pictures and checkpoints, save, and stop;
// with the processes of a data-parallel run, their rank files, the launcher's restart and their
// agreement on failures. `nca train` parses its flags into a RunRequest, shows the cost and the
// progress, and prints the summary; what happens on the way is told through a NoticeFn, as the
// library prints nothing itself.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <c10/core/Device.h>

#include "nca/config.h"
#include "nca/distributed.h"
#include "nca/image_io.h"
#include "nca/run_dir.h"
#include "nca/trainer.h"

namespace nca {

// What a run tells as it goes (the command decides how to show it).
enum class Notice { Debug, Info, Warning };
using NoticeFn = std::function<void(Notice, const std::string&)>;

// A run as `nca train` asks for it.
struct RunRequest {
  TrainConfig cfg;  // the global config (a data-parallel rank's share is derived from it)
  std::string run_dir;
  RunMode mode = RunMode::New;
  bool new_pool = false;              // --new-pool: resume with a pool of seeds if pool.pt is gone
  int dist_timeout = 60;              // seconds any collective waits for the other ranks
  std::string dist_backend = "auto";  // auto | gloo | nccl
};

// The processes of a run of `world` processes on this machine (LOCAL_WORLD_SIZE, which torchrun
// and --nproc set, at most `world`; else one; always one for a single process): they share its
// cores and memory. UsageError when the variable is not a count.
int local_processes(int world);

// Every rank's share of `cfg` (a batch, pool and damage that split), checked alike by every
// process before anything is written (UsageError).
void check_shards(const TrainConfig& cfg, int world);

// What every rank of a `world`-process run would refuse alike, refused once before the processes
// start (`--nproc`): the config, each rank's share, NCCL without a GPU.
void check_before_launch(const TrainConfig& cfg, int world, const std::string& dist_backend);

// The config.toml of the run in `run_dir`, read back; without one, the config its model.pt records
// (a single process's run); nullopt when there is neither. UsageError when config.toml cannot be
// read.
std::optional<TrainConfig> saved_run_config(const std::string& run_dir);

// Whether this process is a worker that a launcher (torchrun --max_restarts) restarted after a
// failure, with a run in `run_dir` to resume.
bool restarted_with_run_to_resume(const std::string& run_dir);

// Peak memory of a run on this machine, every local process counted.
struct MemoryNeed {
  double host = 0;    // bytes of host memory
  double gpu = 0;     // bytes of GPU memory (the rollout's states, on a GPU run)
  int processes = 1;  // the training processes on this machine
};

// What a run will cost, measured by rank 0 before it starts.
struct CostEstimate {
  bool from_image = false;                  // false: the target came from model.pt (a resumed run)
  int source_width = 0, source_height = 0;  // the target image as read
  int image_width = 0, image_height = 0;    // shrunk to fit --size
  int grid = 0;
  double step_seconds = 0;             // one rollout step of grown states, forward and backward
  double iteration_seconds = 0;        // an iteration, on average
  double grown_iteration_seconds = 0;  // pool runs: an iteration of grown states (else 0)
  int64_t iterations_left = 0;
  MemoryNeed memory;
  double model_bytes = 0, pool_bytes = 0;  // one save: model.pt and pool.pt
};

class TrainingRun {
 public:
  // Checks every rank's share of the run and the memory it needs on `device`, and joins the
  // process group of a data-parallel run (`env`). `stop` (may be null): set by a signal handler;
  // looked at between iterations (and agreed on by the ranks).
  TrainingRun(RunRequest request, const std::optional<LaunchEnv>& env, const c10::Device& device,
              const std::atomic<bool>* stop, NoticeFn notice);
  ~TrainingRun();
  TrainingRun(const TrainingRun&) = delete;
  TrainingRun& operator=(const TrainingRun&) = delete;

  // Takes and prepares the run directory (rank 0), checks what a resumed run may change, reads
  // the target and builds the trainer on the device with `threads` (for the log). A failure on
  // any rank ends every rank with the same exit code (UsageError or runtime_error here; QuietExit
  // on the others). Nothing is trained or saved yet.
  void open(int threads);
  // Rank 0: times a rollout of grown states and adds up memory and disk.
  CostEstimate estimate_cost();
  // Resumes (model, optimiser, pool, each rank's share) or starts, gives every rank rank 0's
  // weights, and writes loss.csv's first rows, config.toml and target.png.
  void begin();
  // Whether iterations are left and no stop was asked for.
  bool running() const;
  // The next iteration, its loss.csv row written (abandoned when a stop came during it).
  IterationStats step();
  // The pictures and checkpoint due after the iteration just run.
  void write_due();
  // Saves, draws the last pictures and, when the run reached its iterations, growth.gif.
  // Returns whether it stopped early.
  bool finish();

  Trainer& trainer() { return *trainer_; }
  const TrainConfig& config() const { return request_.cfg; }
  const std::string& run_dir() const { return request_.run_dir; }
  std::string model_path() const;
  bool writer() const { return rank_ == 0; }
  bool parallel() const { return world_ > 1; }

 private:
  void agree_on_settings();
  void start(int threads);
  bool stop_requested() const { return stop_ && *stop_; }
  void resume();
  void save();
  // A write of rank 0's; a failure ends the run with one line saying what is still on disk and
  // what to do (`after_failure` when given, else how to resume).
  void write(const std::function<void()>& what, const std::string& after_failure = "");
  // `fn` on every rank, then one agreement on whether it failed anywhere.
  void on_every_rank(const char* what, const std::function<void()>& fn);

  RunRequest request_;
  c10::Device device_;
  int rank_ = 0, world_ = 1;
  const std::atomic<bool>* stop_;
  NoticeFn notice_;
  std::optional<Target> image_;  // the target image, when read from its file
  std::unique_ptr<ProcessGroup> group_;
  std::optional<RunDir> dir_;
  std::optional<Trainer> trainer_;
  std::optional<DataParallel> hooks_;
  MemoryNeed memory_;
  int64_t saved_iteration_ = -1;  // the iteration model.pt holds on disk (-1: none yet)
};

}  // namespace nca
