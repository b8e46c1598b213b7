// Running a trained automaton without training: the grow and regen drivers shared by the
// commands (frames go to a callback, so the caller decides what to write).
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include "nca/damage.h"
#include "nca/model.h"
#include "nca/stepper.h"

namespace nca {

// Called with the step number (0 = the state before any step) and the 1 x C x H x W state.
using FrameSink = std::function<void(int step, const at::Tensor& state)>;

struct RunOptions {
  double angle = 0.0;  // rotates the perception (radians), the Distill article's experiment 4
  int every = 1;       // call the sink every `every` steps (and at the last step)
  // How each step runs (make_stepper); none: auto for the model and the state's device.
  std::shared_ptr<const Stepper> stepper;
  // regenerate(): the grid to run on, cells (0: the target's). run_steps runs the grid of x.
  int64_t height = 0, width = 0;
};

// `t` (... x H0 x W0, e.g. a 4 x H0 x W0 target) as the pattern grows on a height x width grid
// with the perception rotated by `angle` (radians): the seed cell of t's grid (H0/2, W0/2) on
// the seed cell of this one (docs/design.md §1), cells beyond t's grid empty, cells beyond this one
// cut off; for a nonzero angle turned about the seed cell as the pattern turns (anticlockwise as
// drawn, rows downward, for angle > 0; bilinear, so exact only for multiples of 90 degrees).
// The same grid and no angle: t itself.
at::Tensor on_grid(const at::Tensor& t, int64_t height, int64_t width, double angle = 0.0);

// Runs `steps` steps from `x` (no gradients), numbering them from first_step + 1, and calls
// sink(first_step, x) first. Returns the final state.
at::Tensor run_steps(NCAModel& model, at::Tensor x, int first_step, int steps, at::Generator& gen,
                     const RunOptions& options, const FrameSink& sink);

struct RegenResult {
  double loss_before_cut = 0;  // loss to the target at step `at`, before the cut
  double loss_after_cut = 0;   // right after the cut
  double loss_end = 0;         // after the steps that follow
  // (after_cut - end) / (after_cut - before): 1 = fully healed, 0 = no better than right after
  // the cut; NaN when the cut removed no living cell or did not raise the loss.
  double recovered = 0;
  int64_t cells_removed = 0;  // living cells (alpha > 0.1) the cut took away
};

// Grows from a seed for `at` steps, removes the cells of `cut`, runs `steps` more. `target` is
// 4 x H x W, the training grid; undefined: the RGBA of the state at step `at` (before the cut) is
// the target, on the run's grid (options.height x options.width, which must then be given). The
// run's grid is options.height x options.width (0: the target's); the loss is measured against
// on_grid(target, ..., options.angle). The halves and the square are cut on the run's grid (both
// are relative to its centre, the seed cell); the circle is drawn as in training, on the target's
// grid, and placed by on_grid.
RegenResult regenerate(NCAModel& model, const at::Tensor& target, const CutSpec& cut, int at,
                       int steps, at::Generator& gen, const RunOptions& options,
                       const FrameSink& sink);

}  // namespace nca
