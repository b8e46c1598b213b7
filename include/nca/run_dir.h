// The run directory of `nca train` (docs/design.md §7): its layout, resume, checkpoints, the loss
// log and pictures, and what --force may remove. The command only parses flags and shows progress.
//
// Layout (every file nca writes there, and nothing else):
//   config.toml   the resolved config; --resume reads it back
//   model.pt      the latest model (weights, optimiser, generator, iteration): the commit point
//   pool.pt       the sample pool of model.pt's iteration
//   pool.next.pt  the pool of a save in progress: written before model.pt, it becomes pool.pt
//                 once model.pt is committed
//   loss.csv      iter,loss,log10_loss,steps,lr,seconds: one row per finished iteration
//   loss.png      the loss curve so far, learning-rate changes marked
//   batch.png     the last batch before and after its rollout, beside the target
//   target.png    the target as the network is asked to grow it (shrunk and padded into the grid)
//   growth.gif    the final model grown from one seed cell (written when training reaches
//                 its iterations, not after a stop)
//   pool/pool_NNNNNN.png             the first pool samples at iteration NNNNNN
//   checkpoints/model_NNNNNN.pt      model.pt as it was at iteration NNNNNN
//   ranks/rank<R>_NNNNNN.pt, ranks/pool<R>_NNNNNN.pt
//                 data-parallel runs (docs/design.md §8): rank R's (R > 0) own checkpoint and pool
//                 shard at iteration NNNNNN; model.pt and pool.pt are rank 0's
//   .nca.lock     locked (flock) by the one process writing the run, and holding its pid; the
//                 OS releases the lock when that process ends, however it ends
#pragma once

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace nca {

// Another process holds the run directory (a runtime condition, exit 1: it passes).
class RunDirBusy : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Trainer;
struct IterationStats;

// How `nca train` means to use a run directory.
enum class RunMode {
  New,      // it must not exist yet, or be empty
  Resume,   // it must hold a model.pt to continue from
  Replace,  // --force: what nca wrote there before is removed; other files stay
};

class RunDir {
 public:
  // runs/<target file name without extension>-<experiment>
  static std::string default_path(const std::string& target, const std::string& experiment);
  // <dir>/config.toml, for reading a run's settings back before the RunDir exists.
  static std::string config_path_of(const std::string& dir);

  // Checks, before anything is loaded or written, that `dir` can be used for `mode`; throws
  // UsageError for a file where a directory should be, nothing to resume, an existing run
  // without --resume or --force, or a non-empty directory that is not a run directory (for New
  // and Replace alike: --force must never empty a directory nca did not make). Creates nothing.
  static void check(const std::string& dir, RunMode mode);
  // Whether nca wrote `dir`: it has nca's lock file, or a loss.csv with nca's header.
  static bool is_run_directory(const std::string& dir);

  // Data-parallel runs: rank `rank`'s (> 0) checkpoint, or with `pool` its pool shard, at
  // `iteration`. Rank 0's are model.pt and pool.pt.
  static std::string rank_state_path(const std::string& dir, int rank, int64_t iteration,
                                     bool pool);
  // The ranks (> 0) with a checkpoint (with `pool`: a pool shard) of `iteration` in ranks/, in
  // increasing order.
  static std::vector<int> saved_ranks(const std::string& dir, int64_t iteration, bool pool);
  // Rank `rank`'s files in ranks/ of other iterations than `keep` (once model.pt holds `keep`).
  static void remove_rank_states(const std::string& dir, int rank, int64_t keep);

  // Takes the directory's lock when it exists (throws RunDirBusy, naming the holder's pid, when
  // another process has it), then check(). The lock is held until this object goes away.
  RunDir(std::string dir, RunMode mode);
  ~RunDir();
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  // Creates the directory and takes its lock (for Replace, first removes what nca wrote there
  // before), and removes temporaries that killed processes left behind. Called once the inputs
  // are known to be good, so that a bad target leaves nothing behind. Throws std::runtime_error.
  void prepare();

  const std::string& path() const { return dir_; }
  // How many entries of a replaced run directory prepare() kept because nca did not write them.
  int kept() const { return kept_; }
  std::string model_path() const;
  std::string pool_path() const;
  std::string next_pool_path() const;
  std::string loss_csv_path() const;

  // Loads model.pt and pool.pt into `trainer` (RunMode::Resume). Throws std::runtime_error when
  // they are corrupt or do not fit the trainer's config.
  struct Resumed {
    int64_t pool_iteration = -1;  // the iteration pool.pt was saved at (-1: not recorded)
  };
  Resumed resume(Trainer& trainer) const;
  // Opens loss.csv for appending: a new run's holds just the header; a resumed run's keeps the
  // rows of the iterations before `first_iteration` (later rows belong to work that will be
  // repeated), and they are the first points of loss.png.
  void open_loss_log(int64_t first_iteration);

  void write_config(const std::string& toml) const;
  // One loss.csv row, flushed; the history of loss.png grows by one point.
  void append_loss(const IterationStats& s);
  // loss.png, batch.png and pool/pool_NNNNNN.png from the trainer's last iteration.
  void write_pictures(Trainer& trainer) const;
  // target.png: the trainer's target in its grid, kPictureScale pixels a cell.
  void write_target_picture(const Trainer& trainer) const;
  // growth.gif: the trainer's model grown from one seed cell for kGrowthSteps steps, a frame
  // every second step, fire masks from seed 0: what `nca grow --model <dir> --steps 200
  // --every 2` shows.
  void write_growth(Trainer& trainer) const;
  static constexpr int kPictureScale = 4;
  static constexpr int kGrowthSteps = 200;

  // model.pt and pool.pt: the pool to pool.next.pt, then model.pt (the commit), then the pool
  // renamed to pool.pt.
  void save(const Trainer& trainer) const;
  // Before a resume: a pool.next.pt of model.pt's iteration (a save cut short after its commit)
  // becomes pool.pt; one of another iteration (cut short before) is removed.
  void settle_pool() const;
  // checkpoints/model_NNNNNN.pt: model.pt as it is now, as a hard link where possible.
  void write_checkpoint(int64_t iteration) const;

  // Whether the directory was removed under the run (or is going: rm -rf takes the files before
  // the directory), so that a failed write can say so. `saved`: model.pt was written before.
  bool removed(bool saved) const;

 private:
  void lock();
  void remove_what_nca_wrote();
  void keep_loss_rows_before(int64_t iteration);

  std::string dir_;
  RunMode mode_;
  int lock_fd_ = -1;
  int kept_ = 0;
  std::ofstream csv_;
  // The points of loss.png, and the learning rate of each (its changes are marked there).
  std::vector<double> history_iters_, history_log10_, history_lr_;
};

}  // namespace nca
