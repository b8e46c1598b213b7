// `nca train`: resolve the config (defaults < --config file < flags), prepare the run directory,
// train with a progress display, save on Ctrl-C/SIGTERM, resume with --resume.
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

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
  std::ofstream out(path, std::ios::trunc);
  out << "iter,loss,log10_loss,steps,lr,seconds\n";
  if (!out) throw std::runtime_error("cannot write '" + path + "'");
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
      cells.push_back(render_rgb(pool->states()[i]));
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
  // A run killed while saving leaves its temporary file behind (the real file is intact).
  for (const auto& folder : {dir, dir / "checkpoints", dir / "pool"})
    for (const auto& entry : fs::directory_iterator(folder, ec))
      if (entry.path().filename().string().find(".tmp-") != std::string::npos)
        fs::remove(entry.path(), ec);
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
  if (o.resume) {
    trainer.load(model_path, pool_path);
    truncate_csv(csv_path, trainer.iteration());
    spdlog::info("resuming {} at iteration {}", o.run_dir, trainer.iteration());
  } else {
    write_csv_header(csv_path);
  }
  write_text_atomically((dir / "config.toml").string(), cfg.to_toml());

  std::ofstream csv(csv_path, std::ios::app);
  if (!csv) throw std::runtime_error("cannot write '" + csv_path + "'");
  g_stop_requested = false;
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);

  auto save = [&] { trainer.save(model_path, pool_path); };
  std::vector<double> history_iters, history_log10;
  if (o.resume) read_loss_history(csv_path, history_iters, history_log10);
  Progress progress(cfg.iters, cfg.log_every);
  spdlog::info("training {} to {} iterations ({}); Ctrl-C saves and stops",
               to_string(cfg.experiment), cfg.iters, o.run_dir);
  while (trainer.iteration() < cfg.iters && !g_stop_requested) {
    const IterationStats s = trainer.step();
    csv << s.iteration << ',' << fmt::format("{:.9g},{:.6f}", s.loss, s.log10_loss) << ','
        << s.steps << ',' << fmt::format("{:g},{:.4f}", s.lr, s.seconds) << '\n';
    csv.flush();
    if (s.skipped)
      spdlog::warn(
          "iteration {}: loss or gradient not finite; update skipped, weights and pool kept",
          s.iteration);
    const int64_t done = trainer.iteration();
    history_iters.push_back(static_cast<double>(s.iteration));
    history_log10.push_back(s.log10_loss);
    progress.update(done, s.loss, s.log10_loss, s.seconds);
    if (cfg.snapshot_every > 0 && (done % cfg.snapshot_every == 0 || done == 1))
      write_pictures(trainer, dir, history_iters, history_log10);
    if (cfg.save_every > 0 && done % cfg.save_every == 0 && done < cfg.iters) {
      save();
      const auto ckpt = dir / "checkpoints" / fmt::format("model_{:06d}.pt", done);
      write_atomically(ckpt.string(),
                       [&](const std::string& tmp) { fs::copy_file(model_path, tmp); });
    }
  }
  progress.finish();
  save();
  if (cfg.snapshot_every > 0) write_pictures(trainer, dir, history_iters, history_log10);
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
