// The Growing NCA: fixed depthwise perception, a 1x1-conv update network shared by every
// cell, stochastic updates and the alive mask (docs/design.md §1).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include "nca/config.h"

namespace nca {

// N x C x H x W zeros, except the centre cell (H/2, W/2) whose channels 3.. are 1.
torch::Tensor seed_state(int64_t n, int64_t channels, int64_t height, int64_t width,
                         const torch::TensorOptions& options = {});

// N x 1 x H x W bool: max alpha over each 3x3 neighbourhood > threshold.
torch::Tensor alive_mask(const torch::Tensor& x, double threshold);

// N x 1 x H x W float of 0/1: U(0,1) <= rate per cell, drawn from `gen` on the CPU so that a
// seed gives the same masks on every device; returned on `device`.
torch::Tensor fire_mask(int64_t n, int64_t height, int64_t width, double rate, at::Generator& gen,
                        const torch::Device& device = torch::kCPU);

// steps x N x 1 x H x W: the masks of `steps` consecutive fire_mask calls (the same numbers
// from `gen`, in the same order), drawn at once and moved to `device` in one copy.
torch::Tensor fire_masks(int64_t steps, int64_t n, int64_t height, int64_t width, double rate,
                         at::Generator& gen, const torch::Device& device = torch::kCPU);

// Per-sample mean over RGBA x H x W of (x[:, :4] - target)^2: shape N.
torch::Tensor per_sample_loss(const torch::Tensor& x, const torch::Tensor& target);

// The perception filters for `cfg`, shape (C*F) x 1 x 3 x 3, channel-major; `angle` (radians)
// rotates the sobel pair.
torch::Tensor perception_kernels(const ModelConfig& cfg, double angle = 0.0);

// A model's tensors by role (docs/design.md §1): its own tensors, not copies, so that a reader sees
// the live values. What checkpoints, the fast step, TorchScript and the web page read.
struct Weights {
  torch::Tensor kernels;  // the fixed perception filters, (C*F) x 1 x 3 x 3 (a buffer)
  torch::Tensor w1;       // first layer, hidden x (C*F) x 1 x 1
  torch::Tensor b1;       // its bias, hidden
  torch::Tensor w2;       // last layer, C x hidden x 1 x 1
  torch::Tensor b2;       // its bias, C, for Arch::Distill; undefined (no bias) otherwise
};

// Each tensor a model of `cfg` saves, by the dotted name Module::save gives it ("kernels",
// "conv1.weight", ...), with its shape: from the config alone, so that what a file claims can be
// checked before a model of that config is built.
std::map<std::string, std::vector<int64_t>> saved_tensor_shapes(const ModelConfig& cfg);

class NCAModelImpl : public torch::nn::Module {
 public:
  // The first layer gets PyTorch's default initialisation (Arch::Distill: Keras', as the
  // notebook) drawn from `gen` (a fixed seed when none is given); the last layer is zero, so a
  // fresh model changes nothing.
  explicit NCAModelImpl(const ModelConfig& cfg = {}, c10::optional<at::Generator> gen = {});

  // N x C x H x W -> N x (C*F) x H x W. `angle` rotates the sobel pair (radians).
  torch::Tensor perceive(const torch::Tensor& x, double angle = 0.0) const;
  // N x (C*F) x H x W -> dx, N x C x H x W.
  torch::Tensor update(const torch::Tensor& perception);
  // One step with a given fire mask (N x 1 x H x W of 0/1): deterministic.
  torch::Tensor step(const torch::Tensor& x, const torch::Tensor& fire, double angle = 0.0);
  // One step drawing the fire mask from `gen`.
  torch::Tensor step(const torch::Tensor& x, at::Generator& gen, double angle = 0.0);

  const ModelConfig& config() const { return cfg_; }
  Weights weights() const {
    return {kernels_, conv1_->weight, conv1_->bias, conv2_->weight, conv2_->bias};
  }
  // Number of trainable scalars (10,368 for the default config, 8,336 for Arch::Distill).
  int64_t parameter_count() const;

 private:
  ModelConfig cfg_;
  torch::Tensor kernels_;  // buffer: perception_kernels(cfg_) on the model's device
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
};
TORCH_MODULE(NCAModel);

}  // namespace nca
