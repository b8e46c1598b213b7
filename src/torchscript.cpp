// TorchScript export: a torch::jit::Module assembled from C++ with the weights as parameters and
// the step written in TorchScript, so that Python needs neither nca nor this repository's code.
#include "nca/torchscript.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <sstream>

#include "archive_checks.h"
#include "nca/atomic_file.h"

namespace nca {
namespace {

// What NCAModelImpl::step does, line for line (docs/design.md §1). Kept in one place with the
// module layout below; tests/export checks it against the C++ step from Python.
constexpr const char* kMethods = R"(
def perceive(self, x):
    return torch.conv2d(x, self.kernels, None, [1, 1], [1, 1], [1, 1], self.channels)

def update(self, p):
    h = torch.relu(torch.conv2d(p, self.conv1_weight, self.conv1_bias))
    return torch.conv2d(h, self.conv2_weight@CONV2_BIAS@)

def alive(self, x):
    return torch.max_pool2d(x[:, 3:4], [3, 3], [1, 1], [1, 1]) > self.alive_threshold

def forward(self, x, fire):
    pre = self.alive(x)
    y = x + self.update(self.perceive(x)) * fire
    post = self.alive(y)
    return y * (pre & post).to(y.dtype)

def step(self, x):
    u = torch.rand([x.size(0), 1, x.size(2), x.size(3)], dtype=x.dtype, device=x.device)
    return self.forward(x, (u <= self.fire_rate).to(x.dtype))

def seed(self, n: int, h: int, w: int):
    x = torch.zeros([n, self.channels, h, w], dtype=self.kernels.dtype, device=self.kernels.device)
    x[:, 3:, h // 2, w // 2].fill_(1.0)
    return x
)";

// kMethods for a model with or without a bias on its last layer.
std::string methods(bool last_bias) {
  std::string m = kMethods;
  const std::string slot = "@CONV2_BIAS@";
  return m.replace(m.find(slot), slot.size(), last_bias ? ", self.conv2_bias" : "");
}

torch::Tensor own_copy(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU, torch::kFloat).clone();
}

}  // namespace

torch::jit::Module to_torchscript(const NCAModel& model, int64_t training_grid) {
  const ModelConfig& cfg = model->config();
  const Weights w = model->weights();
  torch::jit::Module m("NCA");
  // Parameters keep requires_grad, so that a Python user can fine-tune them.
  m.register_parameter("conv1_weight", own_copy(w.w1).requires_grad_(), false);
  m.register_parameter("conv1_bias", own_copy(w.b1).requires_grad_(), false);
  m.register_parameter("conv2_weight", own_copy(w.w2).requires_grad_(), false);
  if (w.b2.defined()) m.register_parameter("conv2_bias", own_copy(w.b2).requires_grad_(), false);
  m.register_buffer("kernels", own_copy(w.kernels));
  m.register_attribute("channels", c10::IntType::get(), static_cast<int64_t>(cfg.channels));
  m.register_attribute("hidden", c10::IntType::get(), static_cast<int64_t>(cfg.hidden));
  m.register_attribute("perception", c10::StringType::get(), to_string(cfg.perception));
  m.register_attribute("arch", c10::StringType::get(), to_string(cfg.arch));
  m.register_attribute("fire_rate", c10::FloatType::get(), cfg.fire_rate);
  m.register_attribute("alive_threshold", c10::FloatType::get(), cfg.alive_threshold);
  m.register_attribute("training_grid", c10::IntType::get(), training_grid);
  m.define(methods(w.b2.defined()));
  return m;
}

void export_torchscript(const NCAModel& model, const std::string& path, int64_t training_grid) {
  auto m = to_torchscript(model, training_grid);
  // Saved to memory first: LibTorch's file writer throws from its destructor when a write fails
  // (a full disk), which ends the process. The bytes then go through the atomic writer, which
  // reports the reason.
  std::ostringstream bytes;
  try {
    m.save(bytes);
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    throw std::runtime_error("cannot write '" + path + "': " + msg.substr(0, msg.find('\n')));
  }
  const std::string data = bytes.str();
  write_bytes_atomically(path, [&](ByteSink& sink) { sink.write(data); });
}

bool is_torchscript_export(const std::string& path) {
  try {
    const std::string data = read_file(path, kMaxExportBytes);
    // Its data.pkl (stored, not compressed, as torch writes it) starts with the module's class:
    // protocol 2, then GLOBAL __torch__ NCA.
    static const std::string kHead = std::string("\x80\x02") + "c__torch__\nNCA\n";
    for (const archive::ZipRecord& r : archive::read_zip_directory(
             reinterpret_cast<const unsigned char*>(data.data()), data.size()))
      if (r.name == "data.pkl")
        return r.unpacked >= kHead.size() && data.compare(r.data_offset, kHead.size(), kHead) == 0;
  } catch (const std::exception&) {  // not a zip, too large, unreadable: not an export of nca's
  }
  return false;
}

}  // namespace nca
