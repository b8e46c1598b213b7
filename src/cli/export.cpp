// `nca export`: a trained model as an interactive web page (--web DIR: DIR/index.html, runs
// offline in any browser) and/or as TorchScript for Python PyTorch (--torch FILE).
#include <filesystem>

#include <spdlog/spdlog.h>

#include "commands.h"
#include "common.h"
#include "frames.h"
#include "nca/atomic_file.h"
#include "nca/checkpoint.h"
#include "nca/errors.h"
#include "nca/torchscript.h"
#include "nca/web_page.h"

namespace nca::cli {
namespace {

namespace fs = std::filesystem;

// The regenerating lizard: the model the demo is about (erase a piece, watch it heal).
constexpr const char* kDefaultModel = "lizard-regenerating.pt";

int export_model(int argc, char** argv) {
  std::string model_arg, web_dir, torch_path;
  int grid = 0;  // 0: the model's training grid
  CLI::App app(
      "Export a trained model: --web writes an interactive page (grow, erase, regrow; one\n"
      "self-contained index.html, no network needed); --torch writes TorchScript that Python\n"
      "loads with torch.jit.load.",
      "nca export");
  app.get_formatter()->column_width(28);
  app.add_option("--model", model_arg,
                 "Model file or run directory (default: the shipped data/models/" +
                     std::string(kDefaultModel) + ")");
  app.add_option("--web", web_dir, "Write OUT_DIR/index.html, the interactive demo")
      ->type_name("OUT_DIR");
  app.add_option("--torch", torch_path, "Write a TorchScript module for Python PyTorch")
      ->type_name("OUT.pt");
  app.add_option("--grid", grid,
                 "Side of the square grid the web page runs, in cells (default: the model's "
                 "training grid, 72 for the shipped models)");
  if (!parse(app, argc, argv)) return 0;
  if (web_dir.empty() && torch_path.empty())
    throw UsageError("nothing to export: give --web OUT_DIR and/or --torch OUT.pt");

  const std::string model_path = model_path_or_default(model_arg, kDefaultModel);
  if (!torch_path.empty()) {
    check_not_input("--torch", torch_path, model_path);
    check_replaceable(torch_path);
  }
  CheckpointInfo info;
  const NCAModel model = load_model(model_path, &info);
  // A model without a stored target predates them; the reference grid is the best guess.
  if (grid == 0) grid = info.target.defined() ? static_cast<int>(info.target.size(1)) : 72;

  if (!web_dir.empty()) {
    WebPageOptions page;
    page.width = page.height = grid;
    page.description = fs::path(model_path).filename().string() + ", " +
                       std::to_string(info.iteration) + " training iterations";
    const std::string path = export_web_page(model, web_dir, page);
    std::error_code ec;
    spdlog::info("wrote {} ({} KB): open it in a browser, no server or network needed", path,
                 (fs::file_size(path, ec) + 512) / 1024);
  }
  if (!torch_path.empty()) {
    export_torchscript(model, torch_path);
    spdlog::info("wrote {}: in Python, m = torch.jit.load('{}'); x = m.step(m.seed(1, {}, {}))",
                 torch_path, torch_path, grid, grid);
  }
  return 0;
}

}  // namespace

int run_export(int argc, char** argv) {
  return guarded("export", [&] { return export_model(argc, argv); });
}

}  // namespace nca::cli
