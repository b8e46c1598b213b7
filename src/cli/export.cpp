// `nca export`: a trained model as an interactive web page (--web DIR: DIR/index.html, runs
// offline in any browser), as TorchScript for Python PyTorch (--torch FILE) and/or in Distill's
// 8-bit JSON (--distill FILE, for a model of --arch distill).
#include <filesystem>
#include <optional>

#include <spdlog/spdlog.h>

#include "commands.h"
#include "common.h"
#include "frames.h"
#include "nca/atomic_file.h"
#include "nca/checkpoint.h"
#include "nca/distill_format.h"
#include "nca/errors.h"
#include "nca/run_dir.h"
#include "nca/torchscript.h"
#include "nca/web_page.h"

namespace nca::cli {
namespace {

namespace fs = std::filesystem;

// The regenerating lizard: the model the demo is about (erase a piece, watch it heal).
constexpr const char* kDefaultModel = "lizard-regenerating.pt";

// The page's subtitle names the model: a run directory's model.pt (or one of its checkpoints)
// by the run directory's name, "star-growing", any other file by its file name.
std::string model_name(const std::string& model_path) {
  std::error_code ec;
  const fs::path file = fs::absolute(model_path, ec).lexically_normal();
  if (ec) return fs::path(model_path).filename().string();
  fs::path dir = file.parent_path();
  if (dir.filename() == "checkpoints" && RunDir::is_run_directory(dir.parent_path().string()))
    dir = dir.parent_path();
  if (RunDir::is_run_directory(dir.string()) && !dir.filename().empty())
    return dir.filename().string();
  return file.filename().string();
}

// An export killed while writing leaves its temporary beside the file: those of the files this
// export writes are removed, nothing else in the user's folders.
void remove_own_stale_temporaries(const std::string& web_dir, const std::string& torch_path) {
  if (!web_dir.empty())
    remove_stale_temporaries(web_dir, [](const std::string& name) { return name == "index.html"; });
  if (!torch_path.empty()) {
    const fs::path p(torch_path);
    remove_stale_temporaries(
        p.has_parent_path() ? p.parent_path().string() : ".",
        [&](const std::string& name) { return name == p.filename().string(); });
  }
}

int export_model(int argc, char** argv) {
  std::string model_arg, web_dir, torch_path, distill_path;
  std::string grid;  // "": the model's training grid
  CLI::App app(
      "Export a trained model: --web writes an interactive page (grow, erase, regrow; one\n"
      "self-contained index.html, no network needed) that runs the automaton on --grid;\n"
      "--torch writes TorchScript that Python loads with torch.jit.load; --distill writes\n"
      "Distill's 8-bit JSON (a model of --arch distill), which the article's demo loads.\n"
      "--model also takes Distill's model files (e.g. ex3_lizard.json).",
      "nca export");
  app.get_formatter()->column_width(28);
  app.add_option("--model", model_arg, help::model(kDefaultModel));
  app.add_option("--web", web_dir, "Write OUT_DIR/index.html, the interactive demo")
      ->type_name("OUT_DIR");
  app.add_option("--torch", torch_path, "Write a TorchScript module for Python PyTorch")
      ->type_name("OUT.pt");
  app.add_option("--distill", distill_path,
                 "Write the model in Distill's 8-bit JSON (a model of --arch distill)")
      ->type_name("OUT.json");
  add_grid_option(app, grid);
  if (!parse(app, argc, argv)) return 0;
  if (web_dir.empty() && torch_path.empty() && distill_path.empty())
    throw UsageError(
        "nothing to export: give --web OUT_DIR, --torch OUT.pt and/or --distill OUT.json");
  const std::optional<GridSize> grid_given = parse_grid(grid);

  const std::string model_path = model_path_or_default(model_arg, kDefaultModel);
  if (!torch_path.empty()) {
    check_not_input("--torch", torch_path, model_path);
    check_replaceable(torch_path);
    std::error_code ec;
    if (fs::exists(torch_path, ec) && !is_torchscript_export(torch_path))
      throw UsageError("--torch '" + excerpt(torch_path) +
                       "' exists and is not a TorchScript export of nca's (a model file, or a "
                       "file of yours): nca replaces only its own exports; choose another path");
  }
  if (!distill_path.empty()) {
    check_not_input("--distill", distill_path, model_path);
    check_replaceable(distill_path);
    std::error_code ec;
    if (fs::exists(distill_path, ec) && !is_json_model_file(distill_path))
      throw UsageError("--distill '" + excerpt(distill_path) +
                       "' exists and is not a JSON model file: nca replaces only those; choose "
                       "another path");
  }
  if (!web_dir.empty()) check_web_folder(web_dir);
  remove_own_stale_temporaries(web_dir, torch_path);
  CheckpointInfo info;
  const NCAModel model = load_model(model_path, &info);
  // Refused before anything is written.
  if (const std::string why = distill_export_unsupported(model->config());
      !distill_path.empty() && !why.empty())
    throw UsageError("--distill: " + why);
  const auto [h, w] = grid_given.value_or(training_grid(info));

  if (!web_dir.empty()) {
    WebPageOptions page;
    page.height = static_cast<int>(h);
    page.width = static_cast<int>(w);
    page.description =
        info.distill_file
            ? fmt::format("{}, a model of the Distill article", model_name(model_path))
            : fmt::format("{}, {} training iteration{}", model_name(model_path), info.iteration,
                          info.iteration == 1 ? "" : "s");
    const std::string path = export_web_page(model, web_dir, page);
    std::error_code ec;
    spdlog::info("wrote {} ({} KB): open it in a browser, no server or network needed", path,
                 (fs::file_size(path, ec) + 512) / 1024);
  }
  if (!torch_path.empty()) {
    // nca trains on square grids; a model file that does not record its grid says 0. Distill's
    // were trained on 72 x 72.
    const int64_t trained_on = info.target.defined() && info.target.size(1) == info.target.size(2)
                                   ? info.target.size(1)
                               : info.distill_file ? 72
                                                   : 0;
    export_torchscript(model, torch_path, trained_on);
    spdlog::info("wrote {}: in Python, m = torch.jit.load('{}'); x = m.step(m.seed(1, {}, {}))",
                 torch_path, torch_path, h, w);
  }
  if (!distill_path.empty()) {
    export_distill(model, distill_path);
    spdlog::info("wrote {}: Distill's 8-bit format (nca grow --model {} runs it)", distill_path,
                 distill_path);
  }
  return 0;
}

}  // namespace

int run_export(int argc, char** argv) {
  return guarded("export", [&] { return export_model(argc, argv); });
}

}  // namespace nca::cli
