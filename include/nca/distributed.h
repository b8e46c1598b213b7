// Data-parallel training over LibTorch's c10d (docs/design.md §8): the launcher contract
// (torchrun's environment), the collectives training needs, and `--nproc`'s local launcher. c10d's
// headers stay in src/distributed.cpp; the trainer does not include this file.
#pragma once

#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "nca/config.h"
#include "nca/trainer.h"

namespace nca {

// What a launcher (torchrun, srun, mpirun, `nca train --nproc`) tells each process.
struct LaunchEnv {
  int rank = 0;             // RANK: 0 .. world_size-1; rank 0 writes the shared files
  int world_size = 1;       // WORLD_SIZE: processes in the run
  int local_rank = 0;       // LOCAL_RANK: index on this machine (picks GPU LOCAL_RANK)
  std::string master_addr;  // MASTER_ADDR: where rank 0's rendezvous store listens
  int master_port = 29500;  // MASTER_PORT
};

// The launcher's environment, or nothing when neither RANK nor WORLD_SIZE is set (a plain
// single-process run). Throws UsageError naming the variable when one is missing, not an
// integer, or out of range.
std::optional<LaunchEnv> launch_env_from_environment();

// One process's membership of a run: a TCPStore rendezvous (served by rank 0) and a Gloo
// process group (and an NCCL one when asked). Every collective waits at most `timeout`; a rank that
// died or hangs makes the others throw std::runtime_error within it, with one line saying what was
// lost.
class ProcessGroup {
 public:
  // `nccl`: the weights and gradients go over NCCL (CUDA tensors, a CUDA LibTorch only);
  // flags and losses always over Gloo.
  ProcessGroup(const LaunchEnv& env, std::chrono::milliseconds timeout, bool nccl = false);
  // Whether this build has NCCL (a CUDA LibTorch's c10d).
  static bool nccl_available();
  bool uses_nccl() const;
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const;
  int world_size() const;

  // Every rank's tensors become rank `root`'s (in place; any device).
  void broadcast(const std::vector<at::Tensor>& tensors, int root = 0);
  // Every rank's tensors become the mean over the ranks (in place; any device). One
  // all-reduce of one flat buffer, whatever the number of tensors.
  void average(const std::vector<at::Tensor>& tensors);
  // Whether `ok` is true on every rank, and whether `stop` is true on any: one collective.
  IterationHooks::Agreement agree(bool ok, bool stop);
  // The largest `value` over the ranks.
  int max(int value);
  // Rank `root`'s `text` (holding no NUL), on every rank: one agreement on its length, one
  // broadcast (over Gloo, whatever carries the gradients).
  std::string broadcast_text(const std::string& text, int root = 0);
  // The sum of `value` over the ranks.
  double sum(double value);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The trainer hooks of one rank: the agreement on skipping, the gradient mean and the global
// loss, each one collective of `group`.
class DataParallel : public IterationHooks {
 public:
  explicit DataParallel(ProcessGroup& group) : group_(group) {}
  int rollout_steps(int local) override {
    return group_.max(group_.rank() == 0 ? local : std::numeric_limits<int>::min());
  }
  Agreement agree(bool ok, bool stop) override { return group_.agree(ok, stop); }
  void reduce_gradients(const std::vector<at::Tensor>& gradients) override {
    group_.average(gradients);
  }
  double reduce_loss(double local_mean) override {
    return group_.sum(local_mean) / group_.world_size();
  }

 private:
  ProcessGroup& group_;
};

// One rank's share of a run configured with global sizes: `batch` and `pool` divided by the
// world size (UsageError when they do not divide), the damaged samples spread over the ranks
// (3 over 2 ranks: 1 and 2), and a generator seed of its own derived from (seed, rank); rank 0
// of a world of 1 is `global` unchanged.
TrainConfig shard_config(const TrainConfig& global, int rank, int world_size);

// `nca train --nproc N`: starts N copies of this program with `args` (argv without --nproc),
// each with torchrun's environment for rank 0..N-1 on 127.0.0.1 and a free port; forwards
// SIGINT, SIGTERM and SIGHUP to them; when one exits with a failure, asks the others to stop
// (SIGTERM: they save and exit). Returns the exit status of the first that failed (128 +
// signal for a signal), 0 when none did.
int launch_local(int nproc, const std::vector<std::string>& args);

}  // namespace nca
