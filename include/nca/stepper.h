// The seam every step of the automaton goes through (docs/architecture.md): one update step as one
// implementation runs it, chosen once from the config and the device, and used by training, grow
// and regen, bench and the cost estimate. The plain LibTorch step (NCAModelImpl::step,
// docs/design.md §1) and the fast CPU step (fast_step.h, docs/design.md §5) are its two
// implementations; another (a fused GPU step, a new perception's kernels) is one more subclass and
// a line in make_stepper.
#pragma once

#include <memory>
#include <string>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "nca/config.h"
#include "nca/model.h"

namespace nca {

class Stepper {
 public:
  virtual ~Stepper() = default;
  virtual Backend backend() const = 0;
  // What runs, for the logs and bench: "torch", or "fast (avx512 kernels)" with the kernels'
  // instruction set.
  virtual std::string name() const = 0;
  // Bytes the backward pass keeps per cell and step of a training rollout, measured and rounded up
  // (docs/robustness.md, "Memory"): what the memory estimate counts for the rollout.
  virtual double rollout_bytes_per_cell_step(const ModelConfig& model) const = 0;
  // x after one step with this fire mask (N x 1 x H x W), the perception rotated by `angle`.
  virtual at::Tensor step(NCAModelImpl& model, const at::Tensor& x, const at::Tensor& fire,
                          double angle = 0.0) const = 0;
  // The same, the fire mask drawn from `gen` exactly as NCAModelImpl::step(x, gen) draws it.
  virtual at::Tensor step(NCAModelImpl& model, const at::Tensor& x, at::Generator& gen,
                          double angle = 0.0) const = 0;
};

// The step `requested` means for `model` on `device`: auto is the fast step where it can run that
// model there (the CPU, and a model its kernels compute), the plain step otherwise. Throws
// UsageError, saying why and what to use instead, when fast is asked for where it cannot run.
std::shared_ptr<const Stepper> make_stepper(Backend requested, const ModelConfig& model,
                                            const c10::Device& device);

}  // namespace nca
