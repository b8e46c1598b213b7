// `nca train`: resolve the config (defaults < --config file < flags), prepare the run directory,
// train with a progress display, save on Ctrl-C/SIGTERM, resume with --resume.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <sstream>

#include <signal.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <unistd.h>

#include "commands.h"
#include "common.h"
#include "nca/atomic_file.h"
#include "nca/checkpoint.h"
#include "nca/errors.h"
#include "nca/fast_step.h"
#include "nca/image_io.h"
#include "nca/plot.h"
#include "nca/trainer.h"
#include "train_flags.h"

namespace nca::cli {
namespace {

namespace fs = std::filesystem;

// Set from the signal handler; a signal handler can reach nothing but static state.
std::atomic<bool> g_stop_requested{false};

extern "C" void on_stop_signal(int sig) {
  g_stop_requested = true;
  std::signal(sig, SIG_DFL);  // a second Ctrl-C kills at once (files are written atomically)
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
      dir = "runs/" + fs::path(o.cfg.target).stem().string() + "-" + o.experiment;
    const std::string saved = dir.empty() ? "" : (fs::path(dir) / "config.toml").string();
    std::error_code ec;
    if (!saved.empty() && fs::exists(saved, ec)) {
      std::vector<std::string> args(argv + 1, argv + argc);
      args.insert(args.begin(), {"--config", saved});
      std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
      TrainOptions resumed;
      auto app2 = make_app(resumed);
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

void write_csv_header(const std::string& path) {
  write_text_atomically(path, "iter,loss,log10_loss,steps,lr,seconds\n");
}

// Keeps the rows of iterations before `iteration`: rows written after the last checkpoint
// belong to work that the resumed run repeats.
void truncate_csv(const std::string& path, int64_t iteration) {
  std::ifstream in(path);
  if (!in) return write_csv_header(path);
  std::string line, kept;
  std::getline(in, line);
  kept = line + "\n";
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    // A row cut short (a kill or a full disk in the middle of writing it) ends what is kept: its
    // iteration comes after the checkpoint's anyway.
    if (std::count(line.begin(), line.end(), ',') != 5) break;
    try {
      if (std::stoll(line.substr(0, line.find(','))) >= iteration) break;
    } catch (const std::exception&) {
      break;
    }
    kept += line + "\n";
  }
  write_text_atomically(path, kept);
}

// The (iteration, log10 loss) columns of loss.csv, for the loss-curve picture of a resumed run.
void read_loss_history(const std::string& path, std::vector<double>& iters,
                       std::vector<double>& log10_loss) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string iter, loss, log10;
    if (std::getline(row, iter, ',') && std::getline(row, loss, ',') &&
        std::getline(row, log10, ',')) {
      try {
        iters.push_back(std::stod(iter));
        log10_loss.push_back(std::stod(log10));
      } catch (const std::exception&) {
        // a malformed row (e.g. cut short by a kill) only costs one point of the picture
      }
    }
  }
}

// The pictures of a run: loss.png (the curve so far), batch.png (the last batch before and after
// its rollout) and pool/pool_NNNNNN.png (the first pool samples, as in the article).
void write_pictures(Trainer& trainer, const fs::path& dir, const std::vector<double>& iters,
                    const std::vector<double>& log10_loss) {
  save_png((dir / "loss.png").string(), plot_loss_curve(iters, log10_loss));
  const auto& before = trainer.last_batch_before();
  const auto& after = trainer.last_batch_after();
  if (before.defined()) {
    std::vector<RgbImage> cells;
    for (int64_t k = 0; k < before.size(0); ++k) cells.push_back(render_rgb(before[k]));
    for (int64_t k = 0; k < after.size(0); ++k) cells.push_back(render_rgb(after[k]));
    save_png((dir / "batch.png").string(),
             upscale(tile(cells, static_cast<int>(before.size(0)), 2), 2));
  }
  if (SamplePool* pool = trainer.pool()) {
    std::vector<RgbImage> cells;
    for (int64_t i = 0; i < std::min<int64_t>(pool->size(), 48); ++i)
      cells.push_back(render_rgb(pool->state(i)));
    std::error_code ec;
    fs::create_directories(dir / "pool", ec);
    save_png((dir / "pool" / fmt::format("pool_{:06d}.png", trainer.iteration())).string(),
             upscale(tile(cells, 8, 2), 2));
  }
}

// Refuses what would lose or mix up a run, before anything is loaded or written.
void check_run_dir(const TrainOptions& o) {
  std::error_code ec;
  const fs::path dir(o.run_dir);
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw UsageError("run directory '" + o.run_dir + "' is a file");
  if (o.resume) {
    if (!fs::exists(dir / "model.pt", ec))
      throw UsageError("nothing to resume in '" + o.run_dir + "': no model.pt there");
  } else if (fs::exists(dir, ec) && !fs::is_empty(dir, ec) && !o.force) {
    throw UsageError("run directory '" + o.run_dir +
                     "' already exists: --resume continues it, --force replaces it, "
                     "--run-dir picks another");
  }
}

// A process killed in the middle of a save leaves its temporary file (".model.pt.tmp-PID", see
// write_bytes_atomically) behind; the real file beside it is intact. Removes those of processes
// that are gone, so that a resumed run does not accumulate them.
void remove_stale_temporaries(const fs::path& dir) {
  static const std::regex temp_name(R"(\..+\.tmp-(\d{1,9}))");
  for (const fs::path& sub : {dir, dir / "checkpoints", dir / "pool"}) {
    std::error_code ec;
    for (auto it = fs::directory_iterator(sub, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      std::smatch m;
      const std::string name = it->path().filename().string();
      if (!std::regex_match(name, m, temp_name)) continue;
      const auto pid = static_cast<pid_t>(std::stol(m[1].str()));
      const bool gone = pid == ::getpid() || (::kill(pid, 0) != 0 && errno == ESRCH);
      if (gone) {
        std::error_code rm;
        fs::remove(it->path(), rm);
      }
    }
  }
}

void create_run_dir(const TrainOptions& o) {
  std::error_code ec;
  const fs::path dir(o.run_dir);
  if (!o.resume && o.force && fs::exists(dir, ec)) {
    fs::remove_all(dir, ec);
    if (ec) throw std::runtime_error("cannot remove '" + o.run_dir + "': " + ec.message());
  }
  fs::create_directories(dir / "checkpoints", ec);
  if (ec)
    throw std::runtime_error("cannot create run directory '" + o.run_dir + "': " + ec.message());
  remove_stale_temporaries(dir);
}

int train(int argc, char** argv) {
  bool help = false;
  TrainOptions o = resolve_options(argc, argv, help);
  if (help) return 0;
  TrainConfig& cfg = o.cfg;
  apply_choices(o);
  if (o.resume && !o.run_dir.empty()) check_run_dir(o);  // before asking for a target
  if (cfg.target.empty()) throw UsageError("--target is required (an image to grow)");
  cfg.validate();
  if (o.run_dir.empty())
    o.run_dir = "runs/" + fs::path(cfg.target).stem().string() + "-" + to_string(cfg.experiment);

  check_run_dir(o);
  const auto device = select_device(cfg.device);
  const int threads = set_threads(cfg.threads);
  const Target target = load_target(cfg.target, cfg.size, cfg.pad);
  spdlog::info("target {}: {}x{} image in a {}x{} grid; device {}, {} thread{}", cfg.target,
               target.image_width, target.image_height, target.grid, target.grid, device.str(),
               threads, threads == 1 ? "" : "s");
  if (target.opaque)
    spdlog::warn("target '{}' has no transparency: the whole square is the shape to grow",
                 cfg.target);

  create_run_dir(o);
  const fs::path dir(o.run_dir);
  const std::string model_path = (dir / "model.pt").string();
  const std::string pool_path = (dir / "pool.pt").string();
  const std::string csv_path = (dir / "loss.csv").string();

  Trainer trainer(cfg, target_tensor(target), device);
  if (trainer.backend() == Backend::Fast)
    spdlog::info("backend fast ({} kernels)", fast_step_isa());
  else
    spdlog::info("backend torch");
  // The iteration model.pt holds on disk (-1: none yet), for the message when a write fails.
  int64_t saved_iteration = -1;
  // A failed write (a full disk, a removed run directory) ends the run with one line that says
  // what failed, what is still on disk, and what to do. Training is not continued past it: a
  // run that cannot save is hours of work that would be lost anyway.
  auto io = [&](const std::function<void()>& write) {
    try {
      write();
    } catch (const std::runtime_error& e) {
      std::error_code ec;
      std::string msg = e.what();
      // Removed: the directory is gone, or going (rm -rf takes the files before the directory).
      const bool removed =
          !fs::is_directory(dir, ec) || (saved_iteration >= 0 && !fs::exists(model_path, ec));
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
    const auto loaded = trainer.load(model_path, pool_path);
    saved_iteration = trainer.iteration();
    if (loaded.pool_iteration >= 0 && loaded.pool_iteration != trainer.iteration())
      spdlog::warn(
          "pool.pt is from iteration {}, model.pt from {} (a save was cut short); "
          "training goes on with that pool",
          loaded.pool_iteration, trainer.iteration());
    io([&] { truncate_csv(csv_path, trainer.iteration()); });
    spdlog::info("resuming {} at iteration {}", o.run_dir, trainer.iteration());
  } else {
    io([&] { write_csv_header(csv_path); });
  }
  io([&] { write_text_atomically((dir / "config.toml").string(), cfg.to_toml()); });

  std::ofstream csv(csv_path, std::ios::app);
  io([&] {
    if (!csv) throw std::runtime_error("cannot write '" + csv_path + "': " + std::strerror(errno));
  });
  g_stop_requested = false;
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);

  auto save = [&] {
    io([&] { trainer.save(model_path, pool_path); });
    saved_iteration = trainer.iteration();
  };
  std::vector<double> history_iters, history_log10;
  if (o.resume) read_loss_history(csv_path, history_iters, history_log10);
  Progress progress(cfg.iters, cfg.log_every);
  spdlog::info("training {} to {} iterations ({}); Ctrl-C saves and stops",
               to_string(cfg.experiment), cfg.iters, o.run_dir);
  while (trainer.iteration() < cfg.iters && !g_stop_requested) {
    const IterationStats s = trainer.step();
    io([&] {
      csv << s.iteration << ',' << fmt::format("{:.9g},{:.6f}", s.loss, s.log10_loss) << ','
          << s.steps << ',' << fmt::format("{:g},{:.4f}", s.lr, s.seconds) << '\n';
      csv.flush();
      if (!csv)
        throw std::runtime_error("cannot write '" + csv_path + "': " + std::strerror(errno));
    });
    if (s.skipped)
      spdlog::warn(
          "iteration {}: {}; update skipped, the last good weights, optimiser state and "
          "pool kept",
          s.iteration, s.skip_reason);
    const int64_t done = trainer.iteration();
    history_iters.push_back(static_cast<double>(s.iteration));
    history_log10.push_back(s.log10_loss);
    progress.update(done, s.loss, s.log10_loss, s.seconds);
    if (cfg.snapshot_every > 0 && (done % cfg.snapshot_every == 0 || done == 1))
      io([&] { write_pictures(trainer, dir, history_iters, history_log10); });
    if (cfg.save_every > 0 && done % cfg.save_every == 0 && done < cfg.iters) {
      save();
      const auto ckpt = dir / "checkpoints" / fmt::format("model_{:06d}.pt", done);
      io([&] {
        // checkpoints/ may have been removed to make room: that must not stop the run. Not
        // create_directories: a removed run directory must not come back.
        std::error_code ec;
        fs::create_directory(ckpt.parent_path(), ec);
        link_or_copy_atomically(model_path, ckpt.string());
      });
    }
  }
  progress.finish();
  save();
  if (cfg.snapshot_every > 0)
    io([&] { write_pictures(trainer, dir, history_iters, history_log10); });
  if (g_stop_requested) {
    spdlog::info(
        "stopped at iteration {}: saved {}; continue with: nca train --run-dir {} --resume",
        trainer.iteration(), model_path, o.run_dir);
  } else {
    spdlog::info("done: {} iterations, model in {}", trainer.iteration(), model_path);
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  return 0;
}

}  // namespace

int run_train(int argc, char** argv) {
  return guarded("train", [&] { return train(argc, argv); });
}

}  // namespace nca::cli
