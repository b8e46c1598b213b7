// `nca train`: resolve the config (defaults < --config file < flags), train with a progress
// display into the run directory (nca/run_dir.h), save on Ctrl-C, SIGTERM or SIGHUP, resume with
// --resume.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <signal.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "commands.h"
#include "common.h"
#include "nca/checkpoint.h"
#include "nca/distributed.h"
#include "nca/errors.h"
#include "nca/image_io.h"
#include "nca/limits.h"
#include "nca/model.h"
#include "nca/progress.h"
#include "nca/run_dir.h"
#include "nca/stepper.h"
#include "nca/trainer.h"
#include "train_flags.h"

namespace nca::cli {
namespace {

namespace fs = std::filesystem;

// Set from the signal handler; a signal handler can reach nothing but static state.
std::atomic<bool> g_stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void on_stop_signal(int sig) {
  g_stop_requested = true;
  std::signal(sig, SIG_DFL);  // a second Ctrl-C kills at once (files are written atomically)
}

// SIGINT, SIGTERM and SIGHUP (a closed terminal, a dropped SSH session) request a stop. A
// SIGHUP ignored by whoever started nca (nohup) stays ignored: that is what nohup asks for.
void install_stop_handlers() {
  for (int sig : kStopSignals) {
    struct sigaction old {};
    if (sig == SIGHUP && ::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN)
      continue;
    std::signal(sig, on_stop_signal);
  }
}

std::unique_ptr<CLI::App> make_app(TrainOptions& o) {
  auto app = std::make_unique<CLI::App>(
      "Train a Growing Neural Cellular Automaton to grow the target image from one seed cell.\n"
      "Writes a run directory: config.toml, model.pt, checkpoints/, loss.csv, pictures.",
      "nca train");
  app->get_formatter()->column_width(32);
  add_train_flags(*app, o);
  return app;
}

// Parses argv; with --resume and no --config, the run directory's config.toml is the base that
// the flags override, so a resumed run keeps its settings.
TrainOptions resolve_options(int argc, char** argv, bool& help) {
  TrainOptions o;
  auto app = make_app(o);
  help = !parse(*app, argc, argv);
  if (help) return o;
  if (o.resume && o.config_option->count() == 0) {
    std::string dir = o.run_dir;
    if (dir.empty() && !o.cfg.target.empty())
      dir = RunDir::default_path(o.cfg.target, o.experiment);
    const std::string saved = dir.empty() ? "" : RunDir::config_path_of(dir);
    std::error_code ec;
    if (!saved.empty() && fs::exists(saved, ec)) {
      check_config_file(*app, saved);
      std::vector<std::string> args(argv + 1, argv + argc);
      args.insert(args.begin(), {"--config", saved});
      std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
      TrainOptions resumed;
      auto app2 = make_app(resumed);
      make_numbers_exact(*app2);
      try {
        app2->parse(args);
      } catch (const CLI::ParseError&) {
        parse(*app2, argc, argv);  // rethrows reworded when the flags are at fault
        throw UsageError("cannot read '" + saved + "' of the run being resumed");
      }
      if (resumed.run_dir.empty()) resumed.run_dir = dir;
      return resumed;
    }
  }
  return o;
}

// The training processes on this machine (LOCAL_WORLD_SIZE, which torchrun and --nproc set;
// else one): they share its cores and memory.
int local_processes() {
  const char* v = std::getenv("LOCAL_WORLD_SIZE");
  if (!v || !*v) return 1;
  std::string text = v;
  if (!check_integer_text(text, false).empty() || std::stoll(text) < 1 ||
      std::stoll(text) > 1 << 20)
    throw UsageError("LOCAL_WORLD_SIZE must be a whole number of processes, got '" + excerpt(v) +
                     "'");
  return static_cast<int>(std::stoll(text));
}

// Threads per process when --threads is 0 under a launcher: its part of the cores.
int default_threads_per_process() { return std::max(1, limits::cores() / local_processes()); }

// Refuses (UsageError) a run whose estimated peak memory, times the processes on this machine,
// is more than the machine has; returns the estimate in words otherwise (for the cost line).
std::string check_memory(const TrainConfig& shard, const Stepper& stepper,
                         const c10::Device& device) {
  const limits::MemoryEstimate m =
      limits::estimate_training_memory(shard, stepper.rollout_bytes_per_cell_step(shard.model));
  const int local = local_processes();
  // The pool is always kept in host memory; on a GPU the rollout's states are in the GPU's.
  const double on_gpu = device.is_cuda() ? m.rollout * local : 0;
  const double need = m.total() * local - on_gpu, have = limits::machine_memory();
  const std::string rollout = on_gpu > 0
                                  ? std::string()
                                  : fmt::format("rollout of {} steps {}, ", shard.max_steps - 1,
                                                limits::format_bytes(m.rollout));
  const std::string what = fmt::format(
      "about {} of {}memory{} (pool {}, {}program {})", limits::format_bytes(need),
      on_gpu > 0 ? "host " : "", local > 1 ? fmt::format(" for {} processes", local) : "",
      limits::format_bytes(m.pool), rollout, limits::format_bytes(m.fixed));
  if (have > 0 && need > have)
    throw UsageError("this run needs " + what + ", more than this machine's " +
                     limits::format_bytes(have) + ": lower --max-steps, --batch, --pool or --size");
  const std::string processes = local > 1 ? fmt::format(" for {} processes", local) : "";
  if (device.is_cuda())  // the GPU's own limit is LibTorch's to report
    return fmt::format("peak memory about {} on the host and {} on the GPU{}",
                       limits::format_bytes(need), limits::format_bytes(on_gpu), processes);
  return fmt::format("peak memory about {}{}", limits::format_bytes(need), processes);
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

// The bytes of one save: model.pt (weights and Adam's two moments, the target) and pool.pt
// (format 2: each state as the box of its nonzero cells). A pool of grown states is estimated
// as every state covering the target's box of visible cells grown by kPoolBoxMargin cells on
// each side (the alive cells around a shape), within the grid.
inline constexpr int64_t kPoolBoxMargin = 1;
struct SaveSize {
  double model = 0, pool = 0;
};
SaveSize estimate_save_size(Trainer& trainer) {
  const TrainConfig& cfg = trainer.config();
  SaveSize s;
  int64_t weights = 0;
  for (const auto& p : trainer.model()->parameters()) weights += p.numel();
  const auto g = static_cast<double>(cfg.grid());
  s.model = 4.0 * (3.0 * static_cast<double>(weights) + 4 * g * g) + 16e3;
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
    s.pool =
        static_cast<double>(trainer.pool()->size()) * (4.0 * cfg.model.channels * box + 32.0) + 1e3;
  }
  return s;
}

// A path as the user can paste it into a shell.
std::string shell_word(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_./-+=:,@%") == std::string::npos)
    return s;
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// torchrun --max_restarts: a restarted worker continues the run it belongs to.
bool restarted_by_launcher() {
  const char* n = std::getenv("TORCHELASTIC_RESTART_COUNT");
  return n && *n && std::string(n) != "0";
}

// (key, value) of a config.toml written by TrainConfig::to_toml, in its order.
std::vector<std::pair<std::string, std::string>> toml_values(const std::string& toml) {
  std::vector<std::pair<std::string, std::string>> values;
  std::istringstream in(toml);
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find(" = ");
    if (!line.empty() && line[0] != '#' && eq != std::string::npos)
      values.emplace_back(line.substr(0, eq), line.substr(eq + 3));
  }
  return values;
}

// The config of the run being resumed, read from its config.toml alone (nullopt: there is none).
std::optional<TrainConfig> saved_config(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  TrainOptions saved;
  CLI::App app("", "nca train");
  add_train_flags(app, saved);
  std::vector<std::string> args{path, "--config"};  // CLI11 takes a vector in reverse order
  try {
    check_config_file(app, path);
    make_numbers_exact(app);
    app.parse(args);
    apply_choices(saved);
  } catch (const std::exception&) {
    throw UsageError("cannot read '" + path + "' of the run being resumed");
  }
  return saved.cfg;
}

// What --resume may not change: what the model, its pool and its generator were made with.
constexpr const char* kFixedOnResume[] = {"target", "experiment", "size",      "pad",
                                          "hidden", "perception", "fire-rate", "alive-threshold",
                                          "pool",   "seed"};

// A resumed run goes on as it was set up: refuses (UsageError) a flag or --config that changes
// what defines the run (kFixedOnResume) from the run's config.toml, and says what else changes
// (more iterations, another learning rate, ...).
void check_resume_changes(const std::string& saved_path, const TrainConfig& cfg) {
  std::error_code ec;
  const std::optional<TrainConfig> saved = saved_config(saved_path);
  if (!saved) return;
  const auto before_list = toml_values(saved->to_toml());
  const std::map<std::string, std::string> before(before_list.begin(), before_list.end());
  std::string refused;  // every fixed setting that would change, in config.toml's order
  for (const auto& [key, value] : toml_values(cfg.to_toml())) {
    const auto it = before.find(key);
    if (it == before.end() || it->second == value) continue;
    const bool fixed = std::find(std::begin(kFixedOnResume), std::end(kFixedOnResume), key) !=
                       std::end(kFixedOnResume);
    if (fixed && key == "target" && fs::equivalent(saved->target, cfg.target, ec)) continue;
    if (fixed)
      refused += fmt::format("{}{} = {}, not {}", refused.empty() ? "" : "; ", key,
                             excerpt(it->second), excerpt(value));
    else
      spdlog::info("resuming with {} = {} (was {})", key, value, it->second);
  }
  if (!refused.empty())
    throw UsageError("--resume goes on with the run as it was set up: it has " + refused +
                     " (leave those settings out, or start a new run in another --run-dir)");
}

// `fn` on every rank, then one agreement: when it threw on some rank, every rank ends with the
// same exit code (the rank that failed with its own error line; the others quietly), so that no
// rank is left waiting in a collective and the launcher reports the failure's code. Without a
// group, just `fn`.
void on_every_rank(ProcessGroup* group, const char* what, const std::function<void()>& fn) {
  if (!group) return fn();
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
  const int worst = group->max(code);
  if (worst == 0) return;
  if (error) std::rethrow_exception(error);
  spdlog::debug("rank {} stops: another rank {}", group->rank(), what);
  throw QuietExit{worst};
}

// Every rank's share of `cfg` (a batch, pool and damage that split), checked alike by every
// process before anything is written.
void check_shards(const TrainConfig& cfg, int world) {
  for (int r = 0; r < world; ++r) shard_config(cfg, r, world).validate();
}

UsageError nccl_needs_cuda() {
  return UsageError(
      "--dist-backend nccl works between GPUs: add --device cuda, or use "
      "--dist-backend gloo (or auto) on the CPU");
}

// Whether the ranks talk over NCCL. NCCL wants a GPU per process: --device cuda gives each its
// own (cuda:LOCAL_RANK), while cuda:K names one GPU for all the processes of a machine, and so
// does having fewer GPUs than processes. `auto` takes NCCL only where each has its own.
bool use_nccl(const std::string& backend, const std::string& device_flag,
              const c10::Device& device) {
  if (backend == "nccl" && !device.is_cuda()) throw nccl_needs_cuda();
  const int local = local_processes();
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

int train(int argc, char** argv) {
  bool help = false;
  TrainOptions o = resolve_options(argc, argv, help);
  if (help) return 0;
  const auto env = launch_env_from_environment();
  if (o.nproc > 0) {
    if (env)
      throw UsageError(
          "--nproc starts its own processes: leave it out under a launcher that "
          "sets RANK and WORLD_SIZE");
    // What every rank would refuse alike is refused once, here.
    apply_choices(o);
    if (o.cfg.target.empty()) throw UsageError("--target is required (an image to grow)");
    o.cfg.validate();
    check_shards(o.cfg, o.nproc);
    if (o.dist_backend == "nccl" && o.cfg.device == "cpu") throw nccl_needs_cuda();
    std::vector<std::string> args{"nca"};
    for (int i = 0; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--nproc") {
        ++i;
      } else if (a.rfind("--nproc=", 0) != 0) {
        args.push_back(a);
      }
    }
    if (o.nproc > 1) spdlog::info("starting {} processes on 127.0.0.1 (Gloo)", o.nproc);
    return launch_local(o.nproc, args);
  }
  // A worker torchrun restarted after a failure resumes the run, when there is one to resume.
  if (restarted_by_launcher() && !o.resume && !o.force) {
    std::string dir = o.run_dir;
    if (dir.empty() && !o.cfg.target.empty())
      dir = RunDir::default_path(o.cfg.target, o.experiment);
    std::error_code ec;
    if (!dir.empty() && fs::exists(fs::path(dir) / "model.pt", ec)) {
      std::vector<std::string> args(argv, argv + argc);
      args.push_back("--resume");
      std::vector<char*> resumed_argv;
      for (auto& a : args) resumed_argv.push_back(a.data());
      o = resolve_options(static_cast<int>(resumed_argv.size()), resumed_argv.data(), help);
    }
  }
  TrainConfig& cfg = o.cfg;
  apply_choices(o);
  const RunMode mode = o.resume ? RunMode::Resume : o.force ? RunMode::Replace : RunMode::New;
  // With --resume the run directory is checked before asking for a target.
  if (o.resume && !o.run_dir.empty()) RunDir::check(o.run_dir, mode);
  // --resume with a --config of its own: the target is still the run's.
  if (o.resume && cfg.target.empty() && !o.run_dir.empty())
    if (const auto saved = saved_config(RunDir::config_path_of(o.run_dir)))
      cfg.target = saved->target;
  if (cfg.target.empty()) throw UsageError("--target is required (an image to grow)");
  cfg.validate();
  if (o.run_dir.empty()) o.run_dir = RunDir::default_path(cfg.target, to_string(cfg.experiment));
  if (o.new_pool && !o.resume) throw UsageError("--new-pool goes with --resume");

  // Data-parallel (DESIGN §8): this process is one rank; rank 0 alone writes the run
  // directory, every rank trains its share of the batch and pool.
  const bool parallel = env && env->world_size > 1;
  const int rank = parallel ? env->rank : 0;
  const int world = parallel ? env->world_size : 1;
  const bool writer = rank == 0;
  check_shards(cfg, world);
  if (!writer) spdlog::set_level(spdlog::level::warn);  // rank 0 tells the story
  const TrainConfig shard = shard_config(cfg, rank, world);
  const auto device = select_device(cfg.device, parallel ? env->local_rank : 0);
  const std::string memory =
      check_memory(shard, *make_stepper(cfg.backend, cfg.model, device), device);
  std::unique_ptr<ProcessGroup> group;
  if (parallel) {
    const bool nccl = use_nccl(o.dist_backend, cfg.device, device);
    group = std::make_unique<ProcessGroup>(*env, std::chrono::seconds(o.dist_timeout), nccl);
    spdlog::info(
        "rank 0 of {} processes ({}, rendezvous {}:{}); batch {} and pool {} per "
        "process",
        world, nccl ? "NCCL" : "Gloo", env->master_addr, env->master_port, shard.batch,
        cfg.uses_pool() ? shard.pool : 0);
  }

  // Before the run directory exists: a stop request from here on is kept, and the run stops
  // at its first chance with model.pt saved (a signal that killed the process between
  // creating the directory and the first save left one neither --resume nor a rerun took).
  install_stop_handlers();
  std::optional<RunDir> run;
  std::optional<Trainer> trainer_slot;
  std::optional<Target> image;  // the target image, when read from its file
  const std::string model_path = (fs::path(o.run_dir) / "model.pt").string();
  on_every_rank(group.get(), "could not start", [&] {
    if (writer) run.emplace(o.run_dir, mode);
    if (writer && o.resume) {
      // The pool is sharded over the ranks that trained it: the same number must resume it.
      const int saved_world =
          RunDir::saved_world_size(o.run_dir, read_checkpoint_info(model_path).iteration);
      if (saved_world != world)
        throw UsageError("'" + o.run_dir + "' was trained by " + std::to_string(saved_world) +
                         " process" + (saved_world == 1 ? "" : "es") +
                         " (each holds a share of "
                         "the pool): resume it with " +
                         (saved_world == 1 ? std::string("no --nproc")
                                           : "--nproc " + std::to_string(saved_world)) +
                         " (or a launcher's WORLD_SIZE=" + std::to_string(saved_world) + ")");
      check_resume_changes(RunDir::config_path_of(o.run_dir), cfg);
    }
    // Several processes on one machine share its cores: by default each takes its part.
    int threads = cfg.threads;
    if (threads == 0 && parallel) threads = default_threads_per_process();
    threads = set_threads(threads);
    // A resumed run's target is the one model.pt holds: the run directory is all it needs (the
    // image may have moved, or be a relative path from another working directory).
    at::Tensor target;
    if (o.resume) target = read_checkpoint_info(model_path).target;
    if (target.defined()) {
      spdlog::info("target from {} ({}x{} grid); device {}, {} thread{}{}", model_path,
                   target.size(1), target.size(2), device.str(), threads, threads == 1 ? "" : "s",
                   parallel ? " per process" : "");
    } else {
      image = load_target(cfg.target, cfg.size, cfg.pad);
      target = target_tensor(*image);
      spdlog::info("target {}: {}x{} image in a {}x{} grid; device {}, {} thread{}{}", cfg.target,
                   image->image_width, image->image_height, image->grid, image->grid, device.str(),
                   threads, threads == 1 ? "" : "s", parallel ? " per process" : "");
      if (image->opaque)
        spdlog::warn("target '{}' has no transparency: the whole square is the shape to grow",
                     cfg.target);
    }
    if (writer) {
      run->prepare();
      if (run->kept() > 0)
        spdlog::info("--force kept {} entr{} in {} that nca did not write", run->kept(),
                     run->kept() == 1 ? "y" : "ies", o.run_dir);
    }
    trainer_slot.emplace(shard, target, device);
  });
  Trainer& trainer = *trainer_slot;
  // The agreement on skipping and stopping, the gradient mean and the global loss.
  std::optional<DataParallel> hooks;
  if (group) {
    hooks.emplace(*group);
    trainer.set_hooks(&*hooks);
  }
  spdlog::info("backend {}", trainer.stepper()->name());
  // What the run will cost, before it starts: sizes, time, memory, disk. Rank 0 measures its
  // share; every rank runs alike.
  double grown_iteration = 0;  // seconds an iteration of grown states takes (pool runs)
  if (writer) {
    const double step = measure_grown_step(trainer);
    const double mean_steps = (cfg.min_steps + cfg.max_steps - 1) / 2.0;
    // A pool run's batch is its grown states and one seed (whose few cells the work outside the
    // rollout, about a tenth in `nca bench`, makes up for); a growing run starts every sample
    // from a seed, so its states are grown for about the second half of each rollout.
    const double full = step * mean_steps;
    grown_iteration = cfg.uses_pool() ? full : 0;
    const double per_iteration = cfg.uses_pool() ? grown_iteration : full * 0.6;
    const int64_t left = std::max<int64_t>(cfg.iters - trainer.iteration(), 0);
    const SaveSize save = estimate_save_size(trainer);
    std::string sizes;
    if (image) {
      sizes = fmt::format("target {}x{}", image->source_width, image->source_height);
      if (image->image_width != image->source_width || image->image_height != image->source_height)
        sizes += fmt::format(" shrunk to {}x{}", image->image_width, image->image_height);
      sizes += fmt::format(" in a {}x{} grid", image->grid, image->grid);
    } else {
      sizes = fmt::format("a {}x{} grid", cfg.grid(), cfg.grid());
    }
    spdlog::info(
        "cost: {}; about {} for {} iteration{} ({:.1f} ms a rollout step of grown "
        "states); {}; about {} on disk per save (pool.pt {}, model.pt {})",
        sizes, format_duration(per_iteration * static_cast<double>(left)), left,
        left == 1 ? "" : "s", step * 1e3, memory, limits::format_bytes(save.model + save.pool),
        limits::format_bytes(save.pool), limits::format_bytes(save.model));
    if (image) {
      const double shrink =
          std::max(static_cast<double>(image->source_width) / image->image_width,
                   static_cast<double>(image->source_height) / image->image_height);
      if (shrink > 2)
        spdlog::warn(
            "target {}x{} is shrunk {:.1f}x to {}x{} (--size {}): its details are lost; "
            "a larger --size keeps more (time and memory grow with its square)",
            image->source_width, image->source_height, shrink, image->image_width,
            image->image_height, cfg.size);
    }
  }
  // The iteration model.pt holds on disk (-1: none yet), for the message when a write fails.
  int64_t saved_iteration = -1;
  // A failed write (a full disk, a removed run directory) ends the run with one line that says
  // what failed, what is still on disk, and what to do. Training is not continued past it: a
  // run that cannot save is hours of work that would be lost anyway. Rank 0 only.
  auto io = [&](const std::function<void()>& write) {
    if (!writer) return;
    try {
      write();
    } catch (const std::runtime_error& e) {
      std::string msg = e.what();
      // A removal in progress (rm -rf) can fail a write before the directory itself is gone:
      // look again a moment later, so that the line says what the user will find.
      bool removed = run->removed(saved_iteration >= 0);
      if (!removed) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        removed = run->removed(saved_iteration >= 0);
      }
      if (removed) {
        msg += "; the run directory '" + o.run_dir +
               "' was removed while training, so nothing more can be saved";
      } else if (saved_iteration >= 0) {
        msg += "; " + model_path + " still holds iteration " + std::to_string(saved_iteration) +
               ": once that is fixed, continue with: nca train --run-dir " + o.run_dir +
               " --resume";
      } else {
        msg += "; no model was saved yet";
      }
      throw std::runtime_error(msg);
    }
  };
  if (o.resume) {
    on_every_rank(group.get(), "could not resume", [&] {
      const int64_t k = read_checkpoint_info(model_path).iteration;
      const std::string pool_file =
          writer ? run->pool_path() : RunDir::rank_state_path(o.run_dir, rank, k, true);
      std::error_code ec;
      if (cfg.uses_pool() && !o.new_pool && !fs::exists(fs::symlink_status(pool_file, ec)))
        throw UsageError("'" + excerpt(pool_file) +
                         "' is missing: the run's sample pool. Put it back, or go on with a new "
                         "pool of seeds with --new-pool (the run then differs from one never "
                         "stopped)");
      if (writer) {
        const auto resumed = run->resume(trainer);
        if (resumed.pool_iteration >= 0 && resumed.pool_iteration != trainer.iteration())
          spdlog::warn(
              "pool.pt is from iteration {}, model.pt from {} (a save was cut short); "
              "training goes on with that pool",
              resumed.pool_iteration, trainer.iteration());
      } else {
        // This rank's own generator and pool shard, saved with model.pt's iteration.
        trainer.load(RunDir::rank_state_path(o.run_dir, rank, k, false),
                     RunDir::rank_state_path(o.run_dir, rank, k, true));
      }
    });
    saved_iteration = trainer.iteration();
  }
  // Every rank starts from rank 0's weights (new runs draw their own; resumed ones agree).
  if (group) group->broadcast(trainer.model()->parameters());
  io([&] { run->open_loss_log(trainer.iteration()); });
  if (o.resume) spdlog::info("resuming {} at iteration {}", o.run_dir, trainer.iteration());
  io([&] { run->write_config(cfg.to_toml()); });
  io([&] { run->write_target_picture(trainer); });

  trainer.set_stop_flag(&g_stop_requested);

  // Data-parallel: ranks 1.. write their own state first, then rank 0 commits model.pt; a rank's
  // older state goes once model.pt no longer needs it.
  auto save = [&] {
    const int64_t k = trainer.iteration();
    on_every_rank(group.get(), "could not save its state", [&] {
      if (writer) return;
      std::error_code ec;
      fs::create_directory(fs::path(o.run_dir) / "ranks", ec);
      trainer.save(RunDir::rank_state_path(o.run_dir, rank, k, false),
                   RunDir::rank_state_path(o.run_dir, rank, k, true));
    });
    on_every_rank(group.get(), "could not save model.pt", [&] { io([&] { run->save(trainer); }); });
    if (!writer) RunDir::remove_rank_states(o.run_dir, rank, k);
    saved_iteration = k;
  };
  std::optional<Progress> progress;
  if (writer) progress.emplace(trainer.iteration(), cfg.iters, cfg.log_every, grown_iteration);
  spdlog::info("training {} to {} iteration{} ({}); Ctrl-C saves and stops",
               to_string(cfg.experiment), cfg.iters, cfg.iters == 1 ? "" : "s", o.run_dir);
  // Data-parallel ranks stop together: the trainer agrees on it after each rollout.
  while (trainer.iteration() < cfg.iters && (parallel || !g_stop_requested)) {
    const IterationStats s = trainer.step();
    if (s.abandoned) break;
    io([&] { run->append_loss(s); });
    if (s.skipped && progress) progress->interrupt();
    if (s.skipped)
      spdlog::warn(
          "iteration {}: {}; update skipped, the last good weights, optimiser state and "
          "pool kept",
          s.iteration, s.skip_reason);
    const int64_t done = trainer.iteration();
    if (progress) progress->update(done, s.loss, s.log10_loss, s.seconds);
    if (cfg.snapshot_every > 0 && (done % cfg.snapshot_every == 0 || done == 1))
      io([&] { run->write_pictures(trainer); });
    if (cfg.save_every > 0 && done % cfg.save_every == 0 && done < cfg.iters) {
      save();
      io([&] { run->write_checkpoint(done); });
    }
  }
  if (progress) progress->finish();
  save();
  if (cfg.snapshot_every > 0) io([&] { run->write_pictures(trainer); });
  const bool stopped = g_stop_requested || trainer.iteration() < cfg.iters;
  // A stop request is answered at once; growing the model for the picture waits for the end.
  if (!stopped) io([&] { run->write_growth(trainer); });
  if (!writer) return 0;
  std::string summary;
  if (progress->iterations_run() > 0) {
    const RecentMean& recent = progress->recent_loss();
    summary = fmt::format(
        "{} iteration{} in {} ({:.2f} it/s), mean loss of the last {} {:.6g} "
        "(log10 {:.3f})",
        progress->iterations_run(), progress->iterations_run() == 1 ? "" : "s",
        format_duration(progress->elapsed()),
        static_cast<double>(progress->iterations_run()) / std::max(progress->elapsed(), 1e-9),
        recent.size(), recent.mean(), std::log10(recent.mean()));
  }
  const std::string dir = shell_word(o.run_dir);
  if (stopped) {
    spdlog::info(
        "stopped at iteration {}: saved {}; continue with: nca train --run-dir {} --resume{}{}",
        trainer.iteration(), model_path, dir,
        parallel ? " (with the same number of processes)" : "",
        summary.empty() ? "" : " (this time: " + summary + ")");
  } else {
    spdlog::info("done: {} iteration{}, model in {}{}", trainer.iteration(),
                 trainer.iteration() == 1 ? "" : "s", model_path,
                 summary.empty() ? "" : "; " + summary);
  }
  spdlog::info(
      "next: nca grow --model {0} --out {1}  |  nca regen --model {0} --out {2}  |  "
      "nca export --model {0} --web {3}",
      dir, shell_word((fs::path(o.run_dir) / "grow").string()),
      shell_word((fs::path(o.run_dir) / "regen").string()),
      shell_word((fs::path(o.run_dir) / "web").string()));
  return 0;
}

}  // namespace

int run_train(int argc, char** argv) {
  return guarded("train", [&] { return train(argc, argv); });
}

}  // namespace nca::cli
