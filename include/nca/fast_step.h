// The fast CPU step (docs/design.md §5): NCAModelImpl::step computed only where it can change the
// result. Only cells within two cells of an alive cell are computed (section 1: nothing else
// survives the alive mask), only the cells that fire, with the update network run on tiles of
// gathered cells. Backpropagation is its own: each step keeps just its input state around the
// alive region plus the masks, and recomputes the rest in the backward pass, so that a rollout
// costs megabytes instead of gigabytes. Same values as the plain step up to float rounding.
#pragma once

#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "nca/config.h"
#include "nca/model.h"

namespace nca {

// Why the fast step cannot run this model ("needs 16 state channels, the model has 8"), or ""
// when it can: its kernels hold 16 channels a cell and the filters of the perceptions they know.
// The choice of step is make_stepper's (stepper.h).
std::string fast_step_unsupported(const ModelConfig& cfg);

// The Highway targets this CPU runs the fast step's kernels on, best first, by Highway's names
// in lower case: "avx3", "avx2", "sse4", "scalar" on an AVX-512 x86 CPU; "neon", "sve", ... on Arm.
std::vector<std::string> fast_step_targets();

// The target the fast step runs: the best, or the one NCA_FAST_KERNELS or use_fast_step_target
// named. Throws UsageError, naming the choices, when NCA_FAST_KERNELS names none of them.
std::string fast_step_target();

// Makes the fast step run `target`'s kernels, in the whole process, from now on. Throws
// UsageError, naming the choices, when it is not one of fast_step_targets().
void use_fast_step_target(const std::string& target);

// NCAModelImpl::step(x, fire, angle) on the CPU: x is N x 16 x H x W float32 (any memory
// format), fire N x 1 x H x W. Returns a channels-last tensor (the next step reads it without a
// copy). Differentiable with respect to x and the model's parameters; under NoGradGuard (or
// when nothing requires a gradient) nothing is kept.
at::Tensor fast_step(NCAModelImpl& model, const at::Tensor& x, const at::Tensor& fire,
                     double angle = 0.0);

// The same, drawing the fire mask from `gen` exactly as NCAModelImpl::step(x, gen) does.
at::Tensor fast_step(NCAModelImpl& model, const at::Tensor& x, at::Generator& gen,
                     double angle = 0.0);

}  // namespace nca
