// The lifecycle of one training run (nca/training_run.h).
#include "nca/training_run.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <torch/torch.h>

#include "nca/checkpoint.h"
#include "nca/config_file.h"
#include "nca/errors.h"
#include "nca/image_io.h"
#include "nca/limits.h"
#include "nca/model.h"
#include "nca/stepper.h"

namespace nca {
namespace {

namespace fs = std::filesystem;

UsageError nccl_needs_cuda() {
  return UsageError(
      "--dist-backend nccl works between GPUs: add --device cuda, or use "
      "--dist-backend gloo (or auto) on the CPU");
}

// Whether the ranks talk over NCCL. NCCL wants a GPU per process: --device cuda gives each its
// own (cuda:LOCAL_RANK), while cuda:K names one GPU for all the processes of a machine, and so
// does having fewer GPUs than processes. `auto` takes NCCL only where each has its own.
bool use_nccl(const std::string& backend, const std::string& device_flag, const c10::Device& device,
              int world) {
  if (backend == "nccl" && !device.is_cuda()) throw nccl_needs_cuda();
  const int local = local_processes(world);
  const bool gpu_each =
      device.is_cuda() && (local == 1 || (device_flag.find(':') == std::string::npos &&
                                          local <= static_cast<int>(torch::cuda::device_count())));
  if (backend == "nccl" && !gpu_each)
    throw UsageError("--dist-backend nccl needs a GPU for each of the " + std::to_string(local) +
                     " processes on this machine: use --device cuda (each process takes "
                     "cuda:LOCAL_RANK) with as many GPUs, or --dist-backend gloo");
  if (backend == "auto") return gpu_each && ProcessGroup::nccl_available();
  return backend == "nccl";
}

// The memory a rank's `shard` needs on this machine, every local process counted. Refuses
// (UsageError) a run that needs more than the machine has.
MemoryNeed check_memory(const TrainConfig& shard, const Stepper& stepper,
                        const c10::Device& device) {
  const limits::MemoryEstimate m =
      limits::estimate_training_memory(shard, stepper.rollout_bytes_per_cell_step(shard.model));
  MemoryNeed need;
  need.processes = local_processes(shard.world_size);
  // The pool is always kept in host memory; on a GPU the rollout's states are in the GPU's.
  need.gpu = device.is_cuda() ? m.rollout * need.processes : 0;
  need.host = m.total() * need.processes - need.gpu;
  const double have = limits::machine_memory();
  if (have > 0 && need.host > have) {
    const int local = need.processes;
    const std::string rollout = need.gpu > 0
                                    ? std::string()
                                    : fmt::format("rollout of {} steps {}, ", shard.max_steps - 1,
                                                  limits::format_bytes(m.rollout));
    const std::string what = fmt::format(
        "about {} of {}memory{} (pool {}, {}program {})", limits::format_bytes(need.host),
        need.gpu > 0 ? "host " : "", local > 1 ? fmt::format(" for {} processes", local) : "",
        limits::format_bytes(m.pool), rollout, limits::format_bytes(m.fixed));
    throw UsageError("this run needs " + what + ", more than this machine's " +
                     limits::format_bytes(have) + ": lower --max-steps, --batch, --pool or --size");
  }
  return need;
}

// Seconds one rollout step of the trainer's batch takes, forward and backward, once its states
// are grown: what an iteration of a pool run costs per step when the pool has filled with shapes
// (seeds cost little, and the fast step works only where cells live). The states are the
// target's RGBA with zero hidden channels, alive where the target is (as many cells as a grown
// pool's: 14.8 % of the reference grid, `nca bench` measures 14.7 %). A round is a whole
// rollout of --min-steps steps with its backward pass, as training runs it: a backward pass has
// a cost of its own (about 20 ms at the reference setting), which rounds of 3 steps charged a
// third of to every step. After a round to warm up (the first rollout's memory is new to the
// process and slower), the faster of 2 rounds counts (other work on the machine only slows a
// round down). Fire masks come from a generator of its own: the run's draws are untouched. The
// gradients it leaves are cleared, and the next iteration's zero_grad clears them anyway.
double measure_grown_step(Trainer& trainer) {
  const TrainConfig& cfg = trainer.config();
  const at::Tensor& target = trainer.target();  // 4 x g x g, on the device
  const int64_t g = cfg.grid(), n = cfg.batch;
  at::Tensor x = torch::zeros({n, cfg.model.channels, g, g}, target.options());
  x.narrow(1, 0, 4).copy_(target.unsqueeze(0).expand({n, 4, g, g}));
  auto gen = at::detail::createCPUGenerator(0);
  const Stepper& stepper = *trainer.stepper();
  NCAModel& model = trainer.model();
  auto run = [&](int steps) {
    at::Tensor y = x;
    const auto fires = fire_masks(steps, n, g, g, cfg.model.fire_rate, gen, target.device());
    for (int s = 0; s < steps; ++s) y = stepper.step(*model, y, fires[s]);
    per_sample_loss(y, target).mean().backward();
    (void)model->parameters().front().grad().sum().item<double>();  // waits for a GPU
  };
  const int steps = std::max(cfg.min_steps, 3);
  run(steps);
  double seconds = 0;
  for (int round = 0; round < 2; ++round) {
    const auto t0 = std::chrono::steady_clock::now();
    run(steps);
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
    seconds = round == 0 ? t : std::min(seconds, t);
  }
  for (auto& p : model->parameters())
    if (p.grad().defined()) p.mutable_grad().zero_();
  return seconds;
}

// The bytes of one save into `cost`: model.pt (weights and Adam's two moments, the target) and
// pool.pt (format 2: each state as the box of its nonzero cells). A pool of grown states is
// estimated as every state covering the target's box of visible cells grown by kPoolBoxMargin
// cells on each side (the alive cells around a shape), within the grid.
inline constexpr int64_t kPoolBoxMargin = 1;
void estimate_save_size(Trainer& trainer, CostEstimate& cost) {
  const TrainConfig& cfg = trainer.config();
  int64_t weights = 0;
  for (const auto& p : trainer.model()->parameters()) weights += p.numel();
  const auto g = static_cast<double>(cfg.grid());
  cost.model_bytes = 4.0 * (3.0 * static_cast<double>(weights) + 4 * g * g) + 16e3;
  if (trainer.pool()) {
    const at::Tensor visible = trainer.target()[3].gt(0).cpu();
    const at::Tensor rows = visible.any(1).nonzero(), cols = visible.any(0).nonzero();
    double box = 0;
    if (rows.numel() > 0) {
      const auto side = [&](const at::Tensor& idx) {
        const int64_t n = idx.max().item<int64_t>() - idx.min().item<int64_t>() + 1;
        return static_cast<double>(std::min<int64_t>(n + 2 * kPoolBoxMargin, cfg.grid()));
      };
      box = side(rows) * side(cols);
    }
    // Cells of float32, and per state its box (4 int64).
    cost.pool_bytes =
        static_cast<double>(trainer.pool()->size()) * (4.0 * cfg.model.channels * box + 32.0) + 1e3;
  }
}

// What the run in `run_dir` was set up with: what model.pt was made with where it says (the
// truth: config.toml may have been edited since, or be another run's), else its config.toml.
// model.pt holds rank 0's share of a data-parallel run: there the sizes, the seed and the rest
// come from config.toml, and what makes the model (target, experiment, sizes, the network) from
// model.pt.
std::optional<TrainConfig> run_setup(const std::string& run_dir, const std::string& model_path,
                                     int world) {
  std::optional<TrainConfig> setup = saved_run_config(run_dir);
  const std::string recorded_text = read_checkpoint_info(model_path).train_config;
  if (recorded_text.empty()) return setup;
  TrainConfig recorded;
  try {
    recorded = parse_train_config(recorded_text);
  } catch (const UsageError&) {
    return setup;  // a checkpoint of another version's keys: config.toml alone
  }
  if (world == 1 || !setup) return recorded;
  setup->target = recorded.target;
  setup->experiment = recorded.experiment;
  setup->size = recorded.size;
  setup->pad = recorded.pad;
  setup->model = recorded.model;
  return setup;
}

// A resumed run goes on as it was set up: refuses (UsageError) a flag, --config or edited
// config.toml that changes what defines the run (fixed_on_resume), and tells what else changes
// (more iterations, another learning rate, ...).
void check_resume_changes(const std::string& run_dir, const std::string& model_path,
                          const TrainConfig& cfg, int world, const NoticeFn& notice) {
  const std::optional<TrainConfig> saved = run_setup(run_dir, model_path, world);
  if (!saved) return;
  std::error_code ec;
  std::string refused;  // every fixed setting that would change, in config.toml's order
  for (const ConfigChange& c : config_changes(*saved, cfg)) {
    const bool fixed = fixed_on_resume(c.key);
    if (fixed && c.key == "target" && fs::equivalent(saved->target, cfg.target, ec)) continue;
    if (fixed)
      refused += fmt::format("{}{} = {}, not {}", refused.empty() ? "" : "; ", c.key,
                             excerpt(c.before), excerpt(c.after));
    else
      notice(Notice::Info, fmt::format("resuming with {} = {} (was {})", c.key, c.after, c.before));
  }
  if (!refused.empty())
    throw UsageError("--resume goes on with the run as it was set up: it has " + refused +
                     " (leave those settings out, or start a new run in another --run-dir)");
}

// How many processes trained the run in `run_dir`: one more than the highest rank with a file of
// model.pt's iteration in ranks/. When there is none (ranks/ emptied or removed), config.toml's
// batch over the share of it that model.pt records, where its pool says the same: model.pt holds
// rank 0's share of a data-parallel run.
int saved_world_size(const std::string& run_dir, const CheckpointInfo& info) {
  int world = 1;
  for (bool pool : {false, true})
    for (int r : RunDir::saved_ranks(run_dir, info.iteration, pool)) world = std::max(world, r + 1);
  if (world > 1 || info.train_config.empty()) return world;
  try {
    const std::optional<TrainConfig> whole = saved_run_config(run_dir);
    const TrainConfig share = parse_train_config(info.train_config);
    if (!whole || share.batch <= 0 || whole->batch % share.batch != 0) return world;
    const int ratio = whole->batch / share.batch;
    if (!whole->uses_pool() || whole->pool == ratio * share.pool) world = ratio;
  } catch (const std::exception&) {  // the resume's own checks say what is wrong with them
  }
  return std::max(world, 1);
}

// The pool is sharded over the ranks that trained it: the same number must resume it, and each
// rank's state of model.pt's iteration must be there.
void check_saved_world(const std::string& run_dir, const std::string& model_path, int world) {
  const CheckpointInfo info = read_checkpoint_info(model_path);
  const int saved_world = saved_world_size(run_dir, info);
  const std::vector<int> states = RunDir::saved_ranks(run_dir, info.iteration, false);
  for (int r = 1; r < saved_world; ++r) {
    if (std::find(states.begin(), states.end(), r) != states.end()) continue;
    throw UsageError(fmt::format(
        "'{}' is missing: '{}' was trained by {} processes, and rank {}'s state (its optimiser "
        "and random generator) at model.pt's iteration {} is in that file. Put it back to "
        "--resume; without it the run can only start again (--force, or another --run-dir)",
        excerpt(RunDir::rank_state_path(run_dir, r, info.iteration, false)), excerpt(run_dir),
        saved_world, r, info.iteration));
  }
  if (saved_world != world)
    throw UsageError(
        "'" + run_dir + "' was trained by " + std::to_string(saved_world) + " process" +
        (saved_world == 1 ? "" : "es") +
        " (each holds a share of "
        "the pool): resume it with " +
        (saved_world == 1 ? std::string("no --nproc") : "--nproc " + std::to_string(saved_world)) +
        " (or a launcher's WORLD_SIZE=" + std::to_string(saved_world) + ")");
}

// The settings every process of a data-parallel run must share, as config.toml writes them: all
// but a process's own device, threads, step implementation and logging.
std::string shared_settings(const TrainConfig& cfg) {
  const TrainConfig defaults;
  TrainConfig c = cfg;
  c.device = defaults.device;
  c.threads = defaults.threads;
  c.backend = defaults.backend;
  c.log_every = defaults.log_every;
  c.snapshot_every = defaults.snapshot_every;
  return c.to_toml();
}

}  // namespace

void check_shards(const TrainConfig& cfg, int world) {
  for (int r = 0; r < world; ++r) shard_config(cfg, r, world).validate();
}

int local_processes(int world) {
  // A single process is alone whatever the environment says (a LOCAL_WORLD_SIZE left over from
  // a launcher's shell, say): only the processes of its own run share the machine with it.
  const char* v = std::getenv("LOCAL_WORLD_SIZE");
  if (world <= 1 || !v || !*v) return 1;
  std::string text = v;
  if (!check_integer_text(text, false).empty() || std::stoll(text) < 1 ||
      std::stoll(text) > 1 << 20)
    throw UsageError("LOCAL_WORLD_SIZE must be a whole number of processes, got '" + excerpt(v) +
                     "'");
  return static_cast<int>(std::min<long long>(std::stoll(text), world));
}

void check_before_launch(const TrainConfig& cfg, int world, const std::string& dist_backend) {
  cfg.validate();
  check_shards(cfg, world);
  if (dist_backend == "nccl" && cfg.device == "cpu") throw nccl_needs_cuda();
}

std::optional<TrainConfig> saved_run_config(const std::string& run_dir) {
  const std::string path = RunDir::config_path_of(run_dir);
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) {
    // config.toml gone: a single process's model.pt holds the same config (a data-parallel run's
    // holds rank 0's share of it).
    const std::string model = (fs::path(run_dir) / "model.pt").string();
    if (!fs::exists(model, ec) || fs::exists(fs::path(run_dir) / "ranks", ec)) return std::nullopt;
    try {
      const std::string recorded = read_checkpoint_info(model).train_config;
      if (!recorded.empty()) return parse_train_config(recorded);
    } catch (const std::exception&) {  // the resume's own checks say what is wrong with it
    }
    return std::nullopt;
  }
  try {
    return read_train_config(path);
  } catch (const std::exception&) {
    throw UsageError("cannot read '" + path + "' of the run being resumed");
  }
}

bool restarted_with_run_to_resume(const std::string& run_dir) {
  // Only a worker of a launcher (RANK set) that counts its restarts in whole numbers.
  const char* n = std::getenv("TORCHELASTIC_RESTART_COUNT");
  const char* rank = std::getenv("RANK");
  std::string count = n ? n : "";
  if (!rank || !*rank || !check_integer_text(count, true).empty() || count == "0" ||
      run_dir.empty())
    return false;
  std::error_code ec;
  return fs::exists(fs::path(run_dir) / "model.pt", ec);
}

TrainingRun::TrainingRun(RunRequest request, const std::optional<LaunchEnv>& env,
                         const c10::Device& device, const std::atomic<bool>* stop, NoticeFn notice)
    : request_(std::move(request)), device_(device), stop_(stop), notice_(std::move(notice)) {
  // Data-parallel (docs/design.md §8): this process is one rank; rank 0 alone writes the run
  // directory, every rank trains its share of the batch and pool.
  if (env && env->world_size > 1) {
    rank_ = env->rank;
    world_ = env->world_size;
  }
  const TrainConfig& cfg = request_.cfg;
  check_shards(cfg, world_);
  const TrainConfig shard = shard_config(cfg, rank_, world_);
  memory_ = check_memory(shard, *make_stepper(cfg.backend, cfg.model, device), device);
  if (parallel()) {
    const bool nccl = use_nccl(request_.dist_backend, cfg.device, device, world_);
    group_ =
        std::make_unique<ProcessGroup>(*env, std::chrono::seconds(request_.dist_timeout), nccl);
    notice_(Notice::Info,
            fmt::format("rank 0 of {} processes ({}, rendezvous {}:{}); batch {} and pool {} per "
                        "process",
                        world_, nccl ? "NCCL" : "Gloo", env->master_addr, env->master_port,
                        shard.batch, cfg.uses_pool() ? shard.pool : 0));
    agree_on_settings();
  }
}

// Processes started by hand (or by a launcher given different flags) would train a mixture, or
// fail deep in a collective: every rank compares its settings with rank 0's first.
void TrainingRun::agree_on_settings() {
  const std::string mine = shared_settings(request_.cfg);
  const std::string first = group_->broadcast_text(mine);
  on_every_rank("has other settings", [&] {
    if (first == mine) return;
    std::string differ;
    for (const ConfigChange& c :
         config_changes(parse_train_config(first), parse_train_config(mine)))
      differ += fmt::format("{}{} = {}, not {}", differ.empty() ? "" : "; ", c.key,
                            excerpt(c.after), excerpt(c.before));
    throw UsageError(fmt::format(
        "rank {} was started with other settings than rank 0: {} (start every process of a run "
        "with the same flags and config)",
        rank_, differ));
  });
}

TrainingRun::~TrainingRun() = default;

void TrainingRun::open(int threads) {
  on_every_rank("could not start", [&] { start(threads); });
  // The agreement on skipping and stopping, the gradient mean and the global loss.
  if (group_) {
    hooks_.emplace(*group_);
    trainer_->set_hooks(&*hooks_);
  }
}

std::string TrainingRun::model_path() const {
  return (fs::path(request_.run_dir) / "model.pt").string();
}

void TrainingRun::start(int threads) {
  const c10::Device& device = device_;
  const TrainConfig& cfg = request_.cfg;
  const bool resuming = request_.mode == RunMode::Resume;
  if (writer()) dir_.emplace(request_.run_dir, request_.mode);
  if (writer() && resuming) {
    check_saved_world(request_.run_dir, model_path(), world_);
    check_resume_changes(request_.run_dir, model_path(), cfg, world_, notice_);
  }
  const std::string per_process = parallel() ? " per process" : "";
  // A resumed run's target is the one model.pt holds: the run directory is all it needs (the
  // image may have moved, or be a relative path from another working directory).
  at::Tensor target;
  if (resuming) target = read_checkpoint_info(model_path()).target;
  if (target.defined()) {
    notice_(Notice::Info, fmt::format("target from {} ({}x{} grid); device {}, {} thread{}{}",
                                      model_path(), target.size(1), target.size(2), device.str(),
                                      threads, threads == 1 ? "" : "s", per_process));
  } else {
    image_ = load_target(cfg.target, cfg.size, cfg.pad);
    target = target_tensor(*image_);
    notice_(Notice::Info,
            fmt::format("target {}: {}x{} image in a {}x{} grid; device {}, {} thread{}{}",
                        cfg.target, image_->image_width, image_->image_height, image_->grid,
                        image_->grid, device.str(), threads, threads == 1 ? "" : "s", per_process));
    if (image_->opaque)
      notice_(Notice::Warning,
              fmt::format("target '{}' has no transparency: the whole square is the shape to grow",
                          cfg.target));
  }
  if (writer()) {
    dir_->prepare();
    if (dir_->kept() > 0)
      notice_(Notice::Info,
              fmt::format("--force kept {} entr{} in {} that nca did not write", dir_->kept(),
                          dir_->kept() == 1 ? "y" : "ies", request_.run_dir));
  }
  trainer_.emplace(shard_config(cfg, rank_, world_), target, device);
}

CostEstimate TrainingRun::estimate_cost() {
  const TrainConfig& cfg = request_.cfg;
  Trainer& trainer = *trainer_;
  CostEstimate cost;
  cost.step_seconds = measure_grown_step(trainer);
  const double mean_steps = (cfg.min_steps + cfg.max_steps - 1) / 2.0;
  // A pool run's batch is its grown states and one seed (whose few cells the work outside the
  // rollout, about a tenth in `nca bench`, makes up for); a growing run starts every sample
  // from a seed, so its states are grown for about the second half of each rollout.
  const double full = cost.step_seconds * mean_steps;
  cost.grown_iteration_seconds = cfg.uses_pool() ? full : 0;
  cost.iteration_seconds = cfg.uses_pool() ? full : full * 0.6;
  cost.iterations_left = std::max<int64_t>(cfg.iters - trainer.iteration(), 0);
  estimate_save_size(trainer, cost);
  cost.memory = memory_;
  cost.grid = cfg.grid();
  if (image_) {
    cost.from_image = true;
    cost.source_width = image_->source_width;
    cost.source_height = image_->source_height;
    cost.image_width = image_->image_width;
    cost.image_height = image_->image_height;
    cost.grid = image_->grid;
  }
  return cost;
}

void TrainingRun::on_every_rank(const char* what, const std::function<void()>& fn) {
  // When `fn` threw on some rank, every rank ends with the same exit code (the rank that failed
  // with its own error line; the others quietly), so that no rank is left waiting in a
  // collective and the launcher reports the failure's code.
  if (!group_) return fn();
  std::exception_ptr error;
  int code = 0;
  try {
    fn();
  } catch (const UsageError&) {
    error = std::current_exception();
    code = kExitUsage;
  } catch (...) {
    error = std::current_exception();
    code = kExitRuntime;
  }
  const int worst = group_->max(code);
  if (worst == 0) return;
  if (error) std::rethrow_exception(error);
  notice_(Notice::Debug, fmt::format("rank {} stops: another rank {}", group_->rank(), what));
  throw QuietExit{worst};
}

void TrainingRun::write(const std::function<void()>& what, const std::string& after_failure) {
  // A failed write (a full disk, a removed run directory) ends the run with one line that says
  // what failed, what is still on disk, and what to do. Training is not continued past it: a
  // run that cannot save is hours of work that would be lost anyway. Rank 0 only.
  if (!writer()) return;
  try {
    what();
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    // A removal in progress (rm -rf) can fail a write before the directory itself is gone:
    // look again a moment later, so that the line says what the user will find.
    bool removed = dir_->removed(saved_iteration_ >= 0);
    if (!removed) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      removed = dir_->removed(saved_iteration_ >= 0);
    }
    if (removed) {
      msg += "; the run directory '" + request_.run_dir +
             "' was removed while training, so nothing more can be saved";
    } else if (!after_failure.empty()) {
      msg += "; " + after_failure;
    } else if (saved_iteration_ >= 0) {
      msg += "; " + model_path() + " still holds iteration " + std::to_string(saved_iteration_) +
             ": once that is fixed, continue with: " + program_name() + " train --run-dir " +
             shell_word(request_.run_dir) + " --resume";
    } else {
      msg +=
          "; no model was saved yet: once that is fixed, run the same command with --force "
          "to start again";
    }
    throw std::runtime_error(msg);
  }
}

void TrainingRun::resume() {
  Trainer& trainer = *trainer_;
  const std::string& run_dir = request_.run_dir;
  on_every_rank("could not resume", [&] {
    if (writer()) dir_->settle_pool();
    const int64_t k = read_checkpoint_info(model_path()).iteration;
    const std::string pool_file =
        writer() ? dir_->pool_path() : RunDir::rank_state_path(run_dir, rank_, k, true);
    std::error_code ec;
    if (request_.cfg.uses_pool() && !request_.new_pool &&
        !fs::exists(fs::symlink_status(pool_file, ec)))
      throw UsageError("'" + excerpt(pool_file) +
                       "' is missing: the run's sample pool. Put it back, or go on with a new "
                       "pool of seeds with --new-pool (the run then differs from one never "
                       "stopped)");
    if (writer()) {
      const auto resumed = dir_->resume(trainer);
      if (resumed.pool_iteration >= 0 && resumed.pool_iteration != trainer.iteration())
        notice_(Notice::Warning,
                fmt::format("pool.pt is from iteration {}, model.pt from {} (a save was cut "
                            "short); training goes on with that pool",
                            resumed.pool_iteration, trainer.iteration()));
      // loss.csv must hold every iteration before model.pt's: checked here, where every rank
      // hears of a refusal.
      saved_iteration_ = trainer.iteration();
      write([&] { dir_->open_loss_log(trainer.iteration()); });
    } else {
      // This rank's own generator and pool shard, saved with model.pt's iteration.
      trainer.load(RunDir::rank_state_path(run_dir, rank_, k, false),
                   RunDir::rank_state_path(run_dir, rank_, k, true));
    }
  });
  saved_iteration_ = trainer.iteration();
}

void TrainingRun::begin() {
  Trainer& trainer = *trainer_;
  const bool resuming = request_.mode == RunMode::Resume;
  if (resuming) resume();
  // Every rank starts from rank 0's weights (new runs draw their own; resumed ones agree).
  if (group_) group_->broadcast(trainer.model()->parameters());
  if (!resuming) write([&] { dir_->open_loss_log(trainer.iteration()); });
  if (resuming)
    notice_(Notice::Info,
            fmt::format("resuming {} at iteration {}", request_.run_dir, trainer.iteration()));
  write([&] { dir_->write_config(request_.cfg.to_toml()); });
  write([&] { dir_->write_target_picture(trainer); });
  trainer.set_stop_flag(stop_);
}

bool TrainingRun::running() const {
  // Data-parallel ranks stop together: the trainer agrees on it after each rollout.
  return trainer_->iteration() < request_.cfg.iters && (parallel() || !stop_requested());
}

IterationStats TrainingRun::step() {
  const IterationStats s = trainer_->step();
  if (!s.abandoned) write([&] { dir_->append_loss(s); });
  return s;
}

void TrainingRun::write_due() {
  const TrainConfig& cfg = request_.cfg;
  const int64_t done = trainer_->iteration();
  if (cfg.snapshot_every > 0 && (done % cfg.snapshot_every == 0 || done == 1))
    write([&] { dir_->write_pictures(*trainer_); });
  if (cfg.save_every > 0 && done % cfg.save_every == 0 && done < cfg.iters) {
    save();
    write([&] { dir_->write_checkpoint(done); });
  }
}

// Data-parallel: ranks 1.. write their own state first, then rank 0 commits model.pt; a rank's
// older state goes once model.pt no longer needs it.
void TrainingRun::save() {
  Trainer& trainer = *trainer_;
  const std::string& run_dir = request_.run_dir;
  const int64_t k = trainer.iteration();
  on_every_rank("could not save its state", [&] {
    if (writer()) return;
    std::error_code ec;
    fs::create_directory(fs::path(run_dir) / "ranks", ec);
    trainer.save(RunDir::rank_state_path(run_dir, rank_, k, false),
                 RunDir::rank_state_path(run_dir, rank_, k, true));
  });
  on_every_rank("could not save model.pt", [&] { write([&] { dir_->save(trainer); }); });
  if (!writer()) RunDir::remove_rank_states(run_dir, rank_, k);
  saved_iteration_ = k;
}

bool TrainingRun::finish() {
  save();
  if (request_.cfg.snapshot_every > 0) write([&] { dir_->write_pictures(*trainer_); });
  const bool stopped = stop_requested() || trainer_->iteration() < request_.cfg.iters;
  // A stop request is answered at once; growing the model for the picture waits for the end.
  // The run is complete once model.pt is: a failed picture loses nothing, and a --resume of a
  // finished run would not draw it.
  if (!stopped)
    write(
        [&] { dir_->write_growth(*trainer_); },
        fmt::format("training is finished and {} holds iteration {}: only the picture is "
                    "missing ({} grow --model {} --out DIR draws the growth)",
                    model_path(), saved_iteration_, program_name(), shell_word(request_.run_dir)));
  return stopped;
}

}  // namespace nca
