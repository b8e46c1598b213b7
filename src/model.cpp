// The NCA model: perception, update network, stochastic step with the alive mask.
#include "nca/model.h"

#include <cmath>

#include <torch/torch.h>

namespace nca {

torch::Tensor seed_state(int64_t n, int64_t channels, int64_t height, int64_t width,
                         const torch::TensorOptions& options) {
  auto x = torch::zeros({n, channels, height, width}, options.dtype(torch::kFloat));
  x.index_put_({torch::indexing::Slice(), torch::indexing::Slice(3), height / 2, width / 2}, 1.0);
  return x;
}

torch::Tensor alive_mask(const torch::Tensor& x, double threshold) {
  auto alpha = x.slice(/*dim=*/1, 3, 4);
  return torch::max_pool2d(alpha, /*kernel_size=*/3, /*stride=*/1, /*padding=*/1) > threshold;
}

torch::Tensor fire_mask(int64_t n, int64_t height, int64_t width, double rate, at::Generator& gen,
                        const torch::Device& device) {
  auto mask = (torch::rand({n, 1, height, width}, gen) <= rate).to(torch::kFloat);
  return device.is_cpu() ? mask : mask.to(device);
}

torch::Tensor fire_masks(int64_t steps, int64_t n, int64_t height, int64_t width, double rate,
                         at::Generator& gen, const torch::Device& device) {
  // One uniform draw for all the steps takes the generator's numbers in the order that `steps`
  // calls of fire_mask would; le_ turns them into 0/1 in place, without a second copy.
  auto masks = torch::rand({steps, n, 1, height, width}, gen).le_(rate);
  return device.is_cpu() ? masks : masks.to(device);
}

torch::Tensor per_sample_loss(const torch::Tensor& x, const torch::Tensor& target) {
  return (x.slice(1, 0, 4) - target).pow(2).mean({1, 2, 3});
}

torch::Tensor perception_kernels(const ModelConfig& cfg, double angle) {
  auto identity = torch::tensor({0.f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 0.f}).view({3, 3});
  auto sobel_x = torch::tensor({-1.f, 0.f, 1.f, -2.f, 0.f, 2.f, -1.f, 0.f, 1.f}).view({3, 3}) / 8.0;
  auto sobel_y = sobel_x.t();
  auto laplace = torch::tensor({0.f, 1.f, 0.f, 1.f, -4.f, 1.f, 0.f, 1.f, 0.f}).view({3, 3}) / 8.0;
  const double c = std::cos(angle), s = std::sin(angle);
  std::vector<torch::Tensor> filters = {identity, c * sobel_x - s * sobel_y,
                                        s * sobel_x + c * sobel_y};
  if (cfg.perception == Perception::Full) filters.push_back(laplace);
  // F x 1 x 3 x 3 repeated per channel gives the channel-major order c0: id,sx,sy,lap; c1: ...
  return torch::stack(filters).unsqueeze(1).repeat({cfg.channels, 1, 1, 1}).contiguous();
}

std::map<std::string, std::vector<int64_t>> saved_tensor_shapes(const ModelConfig& cfg) {
  const int64_t in = cfg.perception_channels(), hidden = cfg.hidden, c = cfg.channels;
  std::map<std::string, std::vector<int64_t>> shapes = {
      {"kernels", {in, 1, 3, 3}},
      {"conv1.weight", {hidden, in, 1, 1}},
      {"conv1.bias", {hidden}},
      {"conv2.weight", {c, hidden, 1, 1}},
  };
  if (cfg.last_bias()) shapes["conv2.bias"] = {c};
  return shapes;
}

NCAModelImpl::NCAModelImpl(const ModelConfig& cfg, c10::optional<at::Generator> gen) : cfg_(cfg) {
  cfg_.validate();
  kernels_ = register_buffer("kernels", perception_kernels(cfg_));
  conv1_ = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(
                                        cfg_.perception_channels(), cfg_.hidden, 1)));
  conv2_ = register_module(
      "conv2", torch::nn::Conv2d(
                   torch::nn::Conv2dOptions(cfg_.hidden, cfg_.channels, 1).bias(cfg_.last_bias())));

  at::Generator g = gen ? *gen : at::detail::createCPUGenerator(0);
  torch::NoGradGuard no_grad;
  if (cfg_.arch == Arch::Distill) {
    // Keras' defaults, as the Distill notebook builds its Conv2D layers: Glorot-uniform weights,
    // U(-l, l) with l = sqrt(6 / (fan_in + fan_out)), and a zero bias; drawn from our generator.
    const double limit =
        std::sqrt(6.0 / static_cast<double>(cfg_.perception_channels() + cfg_.hidden));
    conv1_->weight.copy_(torch::rand(conv1_->weight.sizes(), g) * (2 * limit) - limit);
    conv1_->bias.zero_();
    conv2_->bias.zero_();
  } else {
    // PyTorch's default Conv2d initialisation (kaiming_uniform with a = sqrt(5) gives
    // U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias likewise), but drawn from our generator so that
    // --seed decides it.
    const double bound = 1.0 / std::sqrt(static_cast<double>(cfg_.perception_channels()));
    conv1_->weight.copy_(torch::rand(conv1_->weight.sizes(), g) * (2 * bound) - bound);
    conv1_->bias.copy_(torch::rand(conv1_->bias.sizes(), g) * (2 * bound) - bound);
  }
  conv2_->weight.zero_();  // a fresh model leaves every state unchanged
}

torch::Tensor NCAModelImpl::perceive(const torch::Tensor& x, double angle) const {
  const auto& k = angle == 0.0 ? kernels_ : perception_kernels(cfg_, angle).to(x.device());
  return torch::conv2d(x, k, /*bias=*/{}, /*stride=*/1, /*padding=*/1, /*dilation=*/1,
                       /*groups=*/cfg_.channels);
}

torch::Tensor NCAModelImpl::update(const torch::Tensor& perception) {
  return conv2_->forward(torch::relu(conv1_->forward(perception)));
}

torch::Tensor NCAModelImpl::step(const torch::Tensor& x, const torch::Tensor& fire, double angle) {
  auto pre = alive_mask(x, cfg_.alive_threshold);
  auto y = x + update(perceive(x, angle)) * fire;
  auto post = alive_mask(y, cfg_.alive_threshold);
  return y * (pre & post).to(y.scalar_type());
}

torch::Tensor NCAModelImpl::step(const torch::Tensor& x, at::Generator& gen, double angle) {
  auto fire = fire_mask(x.size(0), x.size(2), x.size(3), cfg_.fire_rate, gen, x.device());
  return step(x, fire, angle);
}

int64_t NCAModelImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace nca
