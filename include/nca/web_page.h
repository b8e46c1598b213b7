// The interactive demo page of `nca export --web`: one self-contained HTML file that runs a
// trained model in the browser in plain JavaScript (weights embedded, no network requests), with
// erase, seed, pause, reset and speed controls. The page's step computes NCAModel::step.
#pragma once

#include <string>

#include "nca/base64.h"
#include "nca/model.h"

namespace nca {

struct WebPageOptions {
  int width = 72;  // grid the page runs, in cells
  int height = 72;
  std::string description;  // one line shown above the grid, e.g. the model's file name
};

// The page as text. Throws UsageError for a grid the page cannot run.
std::string web_page(const NCAModel& model, const WebPageOptions& options = {});

// What every page nca writes says near its top (in an HTML comment).
inline constexpr const char* kWebPageMark = "Written by `nca export --web`";
// Refuses (UsageError) an `out_dir` that is not a directory (a file, a device), or whose
// index.html nca did not write: it is not nca's to replace. A missing folder or page passes.
void check_web_folder(const std::string& out_dir);

// Writes `out_dir`/index.html atomically, creating `out_dir` when missing; returns its path.
// Throws UsageError when `out_dir` is a file or holds a page nca did not write
// (check_web_folder), std::runtime_error when it cannot be written.
std::string export_web_page(const NCAModel& model, const std::string& out_dir,
                            const WebPageOptions& options = {});

}  // namespace nca
