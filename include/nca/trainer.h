// Training: one iteration = sample -> rollout -> loss -> backward -> normalise -> step
// (docs/design.md §2). The trainer returns data; the caller decides how to show it.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/optim/adam.h>

#include "nca/config.h"
#include "nca/model.h"
#include "nca/pool.h"
#include "nca/pool_file.h"
#include "nca/stepper.h"

namespace nca {

struct IterationStats {
  int64_t iteration = 0;    // 0-based index of the iteration just run
  double loss = 0;          // batch mean of the per-sample losses after the rollout
  double log10_loss = 0;    // log10(loss)
  int steps = 0;            // rollout length of this iteration
  double lr = 0;            // learning rate used for this iteration's step
  double seconds = 0;       // wall time of the iteration
  bool skipped = false;     // something was not finite: weights, optimiser and pool were kept
  std::string skip_reason;  // what was not finite, in words (empty when not skipped)
  bool abandoned = false;   // a stop request came during the rollout: nothing of it was kept
};

// What one iteration drew from the generator and started from, for tests that replay training
// in another implementation (tests/training). Recorded only while a trace is attached.
struct IterationTrace {
  at::Tensor indices;            // pool indices of the batch, highest loss first (pool runs)
  at::Tensor damage;             // d x 1 x H x W circle masks cut from the last d samples
  at::Tensor batch;              // N x C x H x W: the batch the rollout started from (CPU)
  std::vector<at::Tensor> fire;  // one N x 1 x H x W fire mask per rollout step (CPU)
};

// What data-parallel training adds to an iteration (docs/design.md §8), called by the trainer at
// fixed points; a single process attaches none. Every rank makes the same calls in the same order
// whatever its data, so that the collectives behind them match up.
class IterationHooks {
 public:
  virtual ~IterationHooks() = default;
  struct Agreement {
    bool all_ok = true;     // `ok` on every rank: one rank's non-finite loss or state skips the
                            // iteration everywhere
    bool any_stop = false;  // a stop was requested on some rank: every rank abandons the
                            // iteration, at the same point
  };
  // Before the rollout: rank 0's rollout length, for every rank (one length per global batch,
  // as in the reference; and no rank waits for a longer one).
  virtual int rollout_steps(int local) = 0;
  // After the rollout and backward, one collective.
  virtual Agreement agree(bool ok, bool stop) = 0;
  // After backward, before the per-parameter normalisation: each gradient becomes the mean of
  // the ranks' (so every rank takes the same optimiser step).
  virtual void reduce_gradients(const std::vector<at::Tensor>& gradients) = 0;
  // The training loss over every rank's samples, from this rank's batch mean.
  virtual double reduce_loss(double local_mean) = 0;
};

// g <- g / (||g|| + 1e-8) for each parameter's gradient. Returns false when a gradient norm is
// not finite (the gradients are then left as they are).
bool normalize_gradients(const std::vector<at::Tensor>& parameters);

class Trainer {
 public:
  // `target`: 4 x grid x grid (see load_target). The model and target live on `device`; the pool
  // and the random generator on the CPU.
  Trainer(const TrainConfig& cfg, const at::Tensor& target, const torch::Device& device);

  // Runs the next iteration. When the stop flag is set during the rollout, the iteration is
  // abandoned: weights, optimiser, pool, generator and iteration count stay those of the last
  // finished iteration (so a save and a resume continue exactly as if it never started).
  IterationStats step();
  // Looked at between rollout steps (a signal handler sets it); nullptr: never stop. With hooks
  // attached it is looked at once, after the rollout, and agreed on by every rank.
  void set_stop_flag(const std::atomic<bool>* stop) { stop_ = stop; }
  // From now on each step() overwrites `trace` with what its iteration drew; nullptr stops it.
  void set_trace(IterationTrace* trace) { trace_ = trace; }
  // Data-parallel hooks (not owned; nullptr: a single process, as by default).
  void set_hooks(IterationHooks* hooks) { hooks_ = hooks; }

  int64_t iteration() const { return iteration_; }  // iterations completed
  const TrainConfig& config() const { return cfg_; }
  // How each step runs (make_stepper, from the config's backend and the device).
  const std::shared_ptr<const Stepper>& stepper() const { return stepper_; }
  NCAModel& model() { return model_; }
  torch::optim::Adam& optimizer() { return *optimizer_; }
  at::Generator& generator() { return gen_; }
  SamplePool* pool() { return pool_ ? pool_.get() : nullptr; }
  const SamplePool* pool() const { return pool_ ? pool_.get() : nullptr; }
  const at::Tensor& target() const { return target_; }
  // The last batch before and after its rollout (N x C x H x W), on the CPU, for pictures: copied
  // when asked for (every few hundred iterations), not at every iteration, where on a GPU the
  // copy would wait for the device.
  at::Tensor last_batch_before() const { return last_before_.cpu(); }
  at::Tensor last_batch_after() const { return last_after_.cpu(); }

  // Checkpoint: model + optimiser + config + iteration + generator state (+ pool.pt beside it,
  // written first, so that model.pt is always the last file to change). On a failure (a full
  // disk) the previous model.pt stays and a std::runtime_error gives the reason.
  void save(const std::string& model_path, const std::string& pool_path = "") const;

  struct LoadResult {
    bool pool_loaded = false;     // pool.pt existed and was restored
    int64_t pool_iteration = -1;  // the iteration pool.pt was saved at (-1: not recorded)
  };
  // Restores what save() wrote; the pool only when pool_path names an existing file.
  // Throws std::runtime_error when the files are corrupt or do not fit this config.
  LoadResult load(const std::string& model_path, const std::string& pool_path = "");

 private:
  struct AdamMoments {
    int64_t step = 0;
    at::Tensor exp_avg, exp_avg_sq;
  };
  struct OptimizerSnapshot {
    std::vector<at::Tensor> weights;
    std::vector<std::optional<AdamMoments>> moments;  // none: no state yet for that weight
  };
  // Refuses (std::runtime_error) a pool that another run, or another rank, saved.
  void check_pool_origin(const std::string& path, const PoolOrigin& origin) const;
  bool parameters_finite() const;
  OptimizerSnapshot snapshot_optimizer() const;
  void restore_optimizer(const OptimizerSnapshot& s);

  TrainConfig cfg_;
  torch::Device device_;
  std::shared_ptr<const Stepper> stepper_;
  at::Generator gen_;
  at::Tensor target_;  // 4 x H x W on device_
  at::Tensor seed_;    // C x H x W on the CPU
  NCAModel model_{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer_;
  std::unique_ptr<SamplePool> pool_;
  int64_t iteration_ = 0;
  at::Tensor last_before_, last_after_;
  IterationTrace* trace_ = nullptr;
  const std::atomic<bool>* stop_ = nullptr;
  IterationHooks* hooks_ = nullptr;
};

}  // namespace nca
