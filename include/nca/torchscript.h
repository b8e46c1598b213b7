// `nca export --torch`: a model as a TorchScript module that Python PyTorch loads with
// torch.jit.load and runs without nca:
//   m = torch.jit.load("lizard.pt")
//   g = m.training_grid                            # 72: the grid the model was trained on
//   x = m.seed(1, g, g)                            # N x C x H x W, one seed in the centre
//   x = m.step(x)                                  # one stochastic step (fire rate of the model)
//   y = m(x, fire)                                 # one step with a given N x 1 x H x W 0/1 mask
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <torch/csrc/jit/api/module.h>

#include "nca/model.h"

namespace nca {

// The module: weights as parameters, the perception filters as a buffer, the config as
// attributes (channels, hidden, perception, fire_rate, alive_threshold, and training_grid: the
// side of the square grid the model was trained on, 0 when unknown), and the methods
// forward(x, fire), step(x), seed(n, h, w), perceive(x), update(p) and alive(x), each computing
// what NCAModel does (docs/design.md §1).
torch::jit::Module to_torchscript(const NCAModel& model, int64_t training_grid);

// Saves to_torchscript(model, training_grid) to `path` atomically (a failed write is a
// std::runtime_error naming the file and the reason; the previous file stays).
void export_torchscript(const NCAModel& model, const std::string& path, int64_t training_grid);

// The most is_torchscript_export reads of a file: far more than any export holds.
inline constexpr size_t kMaxExportBytes = size_t{256} << 20;
// Whether the file at `path` is a TorchScript module that export_torchscript wrote (its pickle's
// object is a __torch__.NCA), which a later export may replace.
bool is_torchscript_export(const std::string& path);

}  // namespace nca
