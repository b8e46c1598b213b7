// The two implementations of the step seam and the one place that chooses between them.
#include "nca/stepper.h"

#include "nca/errors.h"
#include "nca/fast_step.h"

namespace nca {
namespace {

class TorchStepper final : public Stepper {
 public:
  Backend backend() const override { return Backend::Torch; }
  std::string name() const override { return "torch"; }
  // Measured as the peak resident memory of `nca train` (docs/robustness.md, "Memory"): 895 and
  // 962 bytes with a hidden layer of 128. Set above the measurement, not below.
  double rollout_bytes_per_cell_step(const ModelConfig& model) const override {
    return 1100.0 * model.hidden / 128.0;
  }
  at::Tensor step(NCAModelImpl& model, const at::Tensor& x, const at::Tensor& fire,
                  double angle) const override {
    return model.step(x, fire, angle);
  }
  at::Tensor step(NCAModelImpl& model, const at::Tensor& x, at::Generator& gen,
                  double angle) const override {
    return model.step(x, gen, angle);
  }
};

class FastStepper final : public Stepper {
 public:
  Backend backend() const override { return Backend::Fast; }
  std::string name() const override { return "fast (" + fast_step_target() + " kernels)"; }
  // Measured: 29 to 63 bytes (the states around the alive region and the masks).
  double rollout_bytes_per_cell_step(const ModelConfig&) const override { return 96; }
  at::Tensor step(NCAModelImpl& model, const at::Tensor& x, const at::Tensor& fire,
                  double angle) const override {
    return fast_step(model, x, fire, angle);
  }
  at::Tensor step(NCAModelImpl& model, const at::Tensor& x, at::Generator& gen,
                  double angle) const override {
    return fast_step(model, x, gen, angle);
  }
};

}  // namespace

std::shared_ptr<const Stepper> make_stepper(Backend requested, const ModelConfig& model,
                                            const c10::Device& device) {
  const std::string unsupported = fast_step_unsupported(model);
  const bool possible = device.is_cpu() && unsupported.empty();
  if (requested == Backend::Fast && !device.is_cpu())
    throw UsageError("backend fast runs on the CPU only; use --backend torch (or auto) on " +
                     device.str());
  if (requested == Backend::Fast && !possible)
    throw UsageError("backend fast " + unsupported + "; use --backend torch (or auto)");
  if (requested == Backend::Fast || (requested == Backend::Auto && possible)) {
    fast_step_target();  // a bad NCA_FAST_KERNELS is refused here, before any work
    return std::make_shared<FastStepper>();
  }
  return std::make_shared<TorchStepper>();
}

}  // namespace nca
