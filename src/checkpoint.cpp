// Checkpoint files: one torch archive with a header (magic, format, config), the weights, and
// optionally the optimiser and generator state. Written atomically; checked on load.
#include "nca/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <vector>

#include <torch/torch.h>

#include "nca/archive_guard.h"
#include "nca/atomic_file.h"
#include "nca/distill_format.h"
#include "nca/errors.h"
#include "nca/limits.h"
#include "nca/torch_compat.h"

namespace nca {
namespace {

std::runtime_error load_error(const std::string& path, const std::string& why) {
  return std::runtime_error("cannot load model '" + path + "': " + why);
}

// A checkpoint holds 40 KB of weights and a target of at most kMaxGridSide^2 cells; anything much
// larger is not one, and must not be read into memory whole.
constexpr size_t kMaxCheckpointBytes = size_t{2} << 30;

// The file's bytes, or the reason they cannot be had, worded for a user.
std::string read_checkpoint_file(const std::string& path) {
  std::error_code ec;
  // A path that names no model is the user's input to fix (exit 2); a damaged file is not.
  if (!std::filesystem::exists(path, ec)) throw UsageError(load_error(path, "no such file").what());
  if (std::filesystem::is_directory(path, ec))
    throw UsageError(load_error(path, "is a directory").what());
  try {
    return read_file(path, kMaxCheckpointBytes);
  } catch (const std::runtime_error& e) {
    throw load_error(path, e.what());
  }
}

template <typename T>
T read_value(torch::serialize::InputArchive& archive, const std::string& path, const char* key) {
  c10::IValue v;
  if (!archive.try_read(key, v)) throw load_error(path, std::string("missing field '") + key + "'");
  try {
    return v.to<T>();
  } catch (const c10::Error&) {
    throw load_error(path, std::string("field '") + key + "' has the wrong type");
  }
}

// An int field, refused rather than wrapped when the file's value does not fit.
int read_int(torch::serialize::InputArchive& archive, const std::string& path, const char* key) {
  const auto v = read_value<int64_t>(archive, path, key);
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
    throw load_error(path,
                     std::string("field '") + key + "' is out of range: " + std::to_string(v));
  return static_cast<int>(v);
}

// Every value finite, and float32 as nca writes them.
void check_float_tensor(const at::Tensor& t, const std::string& path, const std::string& what) {
  if (t.scalar_type() != at::kFloat)
    throw load_error(
        path, what + " is " + std::string(c10::toString(t.scalar_type())) + ", expected float32");
  if (!torch::isfinite(t).all().item<bool>())
    throw load_error(path, what + " holds values that are not finite (NaN or infinity)");
}

CheckpointInfo read_info_fields(torch::serialize::InputArchive& archive, const std::string& path) {
  c10::IValue magic;
  if (!archive.try_read("magic", magic) || !magic.isString() ||
      magic.toStringRef() != kCheckpointMagic)
    throw load_error(path, "not an nca checkpoint (no nca header)");
  CheckpointInfo info;
  info.format = read_value<int64_t>(archive, path, "format");
  if (info.format != kCheckpointFormat)
    throw load_error(path, "checkpoint format " + std::to_string(info.format) +
                               ", this build of nca reads format " +
                               std::to_string(kCheckpointFormat));
  info.iteration = read_value<int64_t>(archive, path, "iteration");
  info.model.channels = read_int(archive, path, "model.channels");
  info.model.hidden = read_int(archive, path, "model.hidden");
  try {
    info.model.perception =
        parse_perception(read_value<std::string>(archive, path, "model.perception"));
  } catch (const std::invalid_argument& e) {
    throw load_error(path, e.what());
  }
  // Written only for a model of another architecture than the default: older files, and the
  // default architecture's files today, have none.
  c10::IValue arch;
  if (archive.try_read("model.arch", arch)) {
    if (!arch.isString()) throw load_error(path, "field 'model.arch' has the wrong type");
    try {
      info.model.arch = parse_arch(arch.toStringRef());
    } catch (const std::invalid_argument& e) {
      throw load_error(path, e.what());
    }
  }
  info.model.fire_rate = read_value<double>(archive, path, "model.fire_rate");
  info.model.alive_threshold = read_value<double>(archive, path, "model.alive_threshold");
  info.train_config = read_value<std::string>(archive, path, "train_config");
  at::Tensor target;
  if (archive.try_read("target", target)) {
    if (target.dim() != 3 || target.size(0) != 4 || target.size(1) < 1 || target.size(2) < 1 ||
        target.size(1) > limits::kMaxGridSide || target.size(2) > limits::kMaxGridSide)
      throw load_error(path, "stored target has shape " + c10::str(target.sizes()) +
                                 ", expected 4 x H x W with H and W in 1.." +
                                 std::to_string(limits::kMaxGridSide));
    check_float_tensor(target, path, "the stored target");
    if (!(target.min().item<float>() >= 0.0f && target.max().item<float>() <= 1.0f))
      throw load_error(path, "the stored target has values outside [0, 1]");
    info.target = target.contiguous();
  }
  auto problems = info.model.problems();
  if (!problems.empty()) throw load_error(path, "invalid model config: " + problems.front());
  if (info.iteration < 0) throw load_error(path, "negative iteration count");
  return info;
}

// The header, checked; torch's own errors on a hostile archive become one worded line.
CheckpointInfo read_info(torch::serialize::InputArchive& archive, const std::string& path) {
  try {
    return read_info_fields(archive, path);
  } catch (const c10::Error& e) {
    throw load_error(path, "corrupt header: " + first_line(e));
  }
}

std::string describe(const ModelConfig& m) {
  std::ostringstream o;
  o << m.channels << " channels, hidden " << m.hidden << ", " << to_string(m.perception)
    << " perception, " << to_string(m.arch) << " arch, fire rate " << m.fire_rate
    << ", alive threshold " << m.alive_threshold;
  return o.str();
}

// The tensor at a dotted name ("conv1.weight"), the way Module::save nests child modules.
at::Tensor read_tensor(torch::serialize::InputArchive& root, const std::string& dotted) {
  torch::serialize::InputArchive* archive = &root;
  std::vector<std::unique_ptr<torch::serialize::InputArchive>> children;
  std::string rest = dotted;
  for (size_t dot; (dot = rest.find('.')) != std::string::npos; rest = rest.substr(dot + 1)) {
    auto child = std::make_unique<torch::serialize::InputArchive>();
    if (!archive->try_read(rest.substr(0, dot), *child)) return {};
    archive = children.emplace_back(std::move(child)).get();
  }
  at::Tensor t;
  if (!archive->try_read(rest, t)) return {};
  return t;
}

// The expected name, shape and (for buffers) value of every tensor of a model of this config.
struct ExpectedTensor {
  std::string name;
  at::Tensor reference;  // the fresh model's tensor: its shape, and its value for a buffer
  bool is_buffer;
};

std::vector<ExpectedTensor> expected_tensors(const NCAModel& model) {
  std::vector<ExpectedTensor> out;
  for (const auto& p : model->named_parameters()) out.push_back({p.key(), p.value(), false});
  for (const auto& b : model->named_buffers()) out.push_back({b.key(), b.value(), true});
  return out;
}

// Reads and checks the stored weights against the shapes the header's config implies, before
// any model of that config is built: a header claiming a huge model cannot make nca allocate
// more than the file holds.
std::map<std::string, at::Tensor> read_weights(torch::serialize::InputArchive& archive,
                                               const std::string& path, const ModelConfig& cfg) {
  torch::serialize::InputArchive weights;
  std::map<std::string, at::Tensor> out;
  try {
    if (!archive.try_read("model", weights)) throw load_error(path, "it holds no weights");
    for (const auto& [name, shape] : saved_tensor_shapes(cfg)) {
      at::Tensor t = read_tensor(weights, name);
      if (!t.defined()) throw load_error(path, "weight '" + name + "' is missing");
      if (t.sizes() != at::IntArrayRef(shape))
        throw load_error(path, "weight '" + name + "' has shape " + c10::str(t.sizes()) +
                                   ", expected " + c10::str(at::IntArrayRef(shape)));
      check_float_tensor(t, path, "weight '" + name + "'");
      out[name] = t;
    }
  } catch (const c10::Error& e) {
    throw load_error(path, "corrupt weights: " + first_line(e));
  }
  return out;
}

// Copies checked weights into `model` (whatever its device), so that the model keeps its own
// tensors (which an optimiser may hold) and a stored tensor's odd strides never reach it. The
// perception kernels are fixed by the config, not learnt: a file must not change them.
void copy_weights(const std::map<std::string, at::Tensor>& weights, NCAModel& model,
                  const std::string& path) {
  torch::NoGradGuard no_grad;
  for (auto& e : expected_tensors(model)) {
    const auto it = weights.find(e.name);
    if (it == weights.end()) throw load_error(path, "weight '" + e.name + "' is missing");
    if (e.is_buffer) {
      if (!torch::allclose(it->second, e.reference.cpu(), 1e-5, 1e-6))
        throw load_error(path, "its perception filters are not the fixed ones of its config");
      continue;
    }
    e.reference.copy_(it->second);
  }
}

void load_weights(torch::serialize::InputArchive& archive, const std::string& path,
                  NCAModel& model) {
  copy_weights(read_weights(archive, path, model->config()), model, path);
}

// Adam's moments live where their parameter lives: a checkpoint's are read onto the CPU, and
// a run on a GPU would otherwise fail at its first optimiser step.
void move_moments(torch::optim::AdamParamState& state, const c10::Device& device) {
  if (state.exp_avg().defined()) state.exp_avg(state.exp_avg().to(device));
  if (state.exp_avg_sq().defined()) state.exp_avg_sq(state.exp_avg_sq().to(device));
  if (state.max_exp_avg_sq().defined()) state.max_exp_avg_sq(state.max_exp_avg_sq().to(device));
}

// Reads what torch::optim::Adam::save wrote ("optimizer": pytorch_version, state/<key>,
// param_groups/<i>/params/<j> = <key>, param_groups/<i>/options) into `adam`. LibTorch's own
// Adam::load cannot be used across versions: it turns each <key> back into an address, and 1.13
// wrote them as hex strings ("0x55...") where 2.x reads decimal ones, so on 2.x every 1.13 key
// becomes 0 and all parameters get one parameter's moments. Here a key only names a state.
void load_adam_state(torch::serialize::InputArchive& archive, torch::optim::Adam& adam,
                     const std::string& path) {
  const auto corrupt = [&](const std::string& why) {
    return load_error(path, "corrupt optimiser state: " + why);
  };
  c10::IValue version;
  if (!archive.try_read("pytorch_version", version) || !version.isString() ||
      version.toStringRef() != "1.5.0")
    throw corrupt("not the layout LibTorch's Adam writes");
  torch::serialize::InputArchive states, groups;
  if (!archive.try_read("state", states) || !archive.try_read("param_groups", groups))
    throw corrupt("no state or parameter groups");
  const auto stored = states.keys();
  const auto count = [&](torch::serialize::InputArchive& a, const std::string& key) {
    at::Tensor n;
    if (!a.try_read(key, n) || n.numel() != 1) throw corrupt("no " + key);
    return n.item<int64_t>();
  };
  auto& param_groups = adam.param_groups();
  if (count(groups, "param_groups/size") != static_cast<int64_t>(param_groups.size()))
    throw corrupt("another number of parameter groups than this model's");
  for (size_t i = 0; i < param_groups.size(); ++i) {
    torch::serialize::InputArchive group, options;
    if (!groups.try_read("param_groups/" + std::to_string(i), group))
      throw corrupt("parameter group " + std::to_string(i) + " is missing");
    const auto& params = param_groups[i].params();
    if (count(group, "params/size") != static_cast<int64_t>(params.size()))
      throw corrupt("another number of parameters than this model's");
    for (size_t j = 0; j < params.size(); ++j) {
      c10::IValue key;
      if (!group.try_read("params/" + std::to_string(j), key) || !key.isString())
        throw corrupt("parameter " + std::to_string(j) + " has no key");
      if (std::find(stored.begin(), stored.end(), key.toStringRef()) == stored.end()) continue;
      torch::serialize::InputArchive one;
      states.read(key.toStringRef(), one);
      auto state = std::make_unique<torch::optim::AdamParamState>();
      state->serialize(one);
      move_moments(*state, params[j].device());
      adam.state()[optimizer_state_key(params[j])] = std::move(state);
    }
    if (!group.try_read("options", options)) throw corrupt("no options");
    torch::optim::AdamOptions read(0);
    read.serialize(options);
    static_cast<torch::optim::AdamOptions&>(param_groups[i].options()) = read;
  }
}

// Adam's moments must match the parameters, or the first step fails (or worse) far from here.
void check_optimizer_state(const torch::optim::Optimizer& optimizer, const std::string& path) {
  const auto& state = optimizer.state();
  for (const auto& group : optimizer.param_groups()) {
    if (const auto* o = dynamic_cast<const torch::optim::AdamOptions*>(&group.options())) {
      const auto [beta1, beta2] = o->betas();
      const bool ok = beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && o->eps() > 0 &&
                      std::isfinite(o->eps()) && o->weight_decay() >= 0 &&
                      std::isfinite(o->weight_decay());
      if (!ok) throw load_error(path, "its optimiser settings are out of range");
    }
    for (const auto& p : group.params()) {
      const auto it = state.find(optimizer_state_key(p));
      if (it == state.end()) continue;
      const auto* adam = dynamic_cast<const torch::optim::AdamParamState*>(it->second.get());
      if (!adam) continue;
      for (const at::Tensor& t : {adam->exp_avg(), adam->exp_avg_sq()}) {
        if (t.defined() && t.sizes() != p.sizes())
          throw load_error(path, "its optimiser state does not match the model's weights");
        if (t.defined()) check_float_tensor(t, path, "the optimiser state");
      }
      if (adam->step() < 0) throw load_error(path, "its optimiser step count is negative");
    }
  }
}

}  // namespace

torch::serialize::InputArchive open_checked_archive(const char* data, size_t size,
                                                    const std::string& path) {
  if (size == 0) throw load_error(path, "the file is empty");
  const std::string corrupt = "not a readable checkpoint (corrupt or truncated?): ";
  try {
    check_archive(data, size);
  } catch (const std::runtime_error& e) {
    throw load_error(path, e.what());
  }
  torch::serialize::InputArchive archive;
  try {
    // Every storage is read onto the CPU, whatever device wrote it (a GPU run tags its storages
    // cuda:K): a CPU-only LibTorch could not create them otherwise, and the callers copy each
    // tensor to where it belongs.
    archive.load_from(data, size, torch::Device(torch::kCPU));
  } catch (const std::exception& e) {
    // Not only c10::Error: the unpickler throws torch::jit::ErrorReport for a type name it
    // cannot resolve (found by fuzzing).
    throw load_error(path, corrupt + first_line(e));
  }
  return archive;
}

void write_archive_atomically(const std::string& path, torch::serialize::OutputArchive& archive) {
  write_bytes_atomically(path, [&](ByteSink& out) {
    // The sink never fails towards torch (it keeps the error for write_bytes_atomically to
    // report): torch's zip writer must not see a short write, because it would throw again from
    // its destructor and end the process.
    try {
      archive.save_to([&](const void* data, size_t size) -> size_t {
        out.write(data, size);
        return size;
      });
    } catch (const c10::Error& e) {
      throw std::runtime_error(first_line(e));
    }
  });
}

void save_checkpoint(const std::string& path, const NCAModel& model, const CheckpointInfo& info,
                     const torch::optim::Optimizer* optimizer, const at::Generator* gen) {
  // The archive is built in memory first, so that nothing is created on disk when serialising
  // fails; then its bytes stream into the temporary file.
  torch::serialize::OutputArchive archive;
  archive.write("magic", c10::IValue(std::string(kCheckpointMagic)));
  archive.write("format", c10::IValue(info.format));
  archive.write("iteration", c10::IValue(info.iteration));
  archive.write("model.channels", c10::IValue(static_cast<int64_t>(info.model.channels)));
  archive.write("model.hidden", c10::IValue(static_cast<int64_t>(info.model.hidden)));
  archive.write("model.perception", c10::IValue(to_string(info.model.perception)));
  // The default architecture's files stay as they were before there was a choice, so that an
  // older nca reads them.
  if (info.model.arch != Arch::Default)
    archive.write("model.arch", c10::IValue(to_string(info.model.arch)));
  archive.write("model.fire_rate", c10::IValue(info.model.fire_rate));
  archive.write("model.alive_threshold", c10::IValue(info.model.alive_threshold));
  archive.write("train_config", c10::IValue(info.train_config));
  // The target travels with the model, so that grow and regen can measure the loss without
  // the image file.
  if (info.target.defined()) archive.write("target", info.target.cpu());
  torch::serialize::OutputArchive weights;
  model->save(weights);
  archive.write("model", weights);
  if (optimizer) {
    torch::serialize::OutputArchive opt;
    optimizer->save(opt);
    archive.write("optimizer", opt);
  }
  if (gen) archive.write("generator", gen->get_state());
  write_archive_atomically(path, archive);
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  if (is_json_model_file(path)) {
    CheckpointInfo info;
    load_distill_model(path, &info);
    return info;
  }
  const std::string bytes = read_checkpoint_file(path);
  auto archive = open_checked_archive(bytes.data(), bytes.size(), path);
  return read_info(archive, path);
}

CheckpointInfo load_checkpoint(const std::string& path, NCAModel& model,
                               torch::optim::Optimizer* optimizer, at::Generator* gen) {
  if (is_json_model_file(path)) {
    if (optimizer)
      throw UsageError(
          load_error(path, "a Distill model file holds weights only, no training state").what());
    CheckpointInfo info;
    const NCAModel loaded = load_distill_model(path, &info);
    if (!(info.model == model->config()))
      throw UsageError(load_error(path, "it is Distill's network (" + describe(info.model) +
                                            "); this run expects " + describe(model->config()))
                           .what());
    torch::NoGradGuard no_grad;
    auto from = loaded->named_parameters();
    for (auto& p : model->named_parameters()) p.value().copy_(from[p.key()]);
    return info;
  }
  const std::string bytes = read_checkpoint_file(path);
  return load_checkpoint_from_memory(bytes.data(), bytes.size(), path, model, optimizer, gen);
}

CheckpointInfo load_checkpoint_from_memory(const char* data, size_t size, const std::string& name,
                                           NCAModel& model, torch::optim::Optimizer* optimizer,
                                           at::Generator* gen) {
  auto archive = open_checked_archive(data, size, name);
  auto info = read_info(archive, name);
  if (!(info.model == model->config()))
    throw load_error(name, "it was trained with " + describe(info.model) + "; this run expects " +
                               describe(model->config()));
  load_weights(archive, name, model);
  try {
    if (optimizer) {
      torch::serialize::InputArchive opt;
      if (!archive.try_read("optimizer", opt))
        throw load_error(name, "it holds no optimiser state (a model, not a training checkpoint)");
      auto* adam = dynamic_cast<torch::optim::Adam*>(optimizer);
      if (!adam) throw std::logic_error("load_checkpoint: only Adam's state is stored");
      load_adam_state(opt, *adam, name);
      check_optimizer_state(*optimizer, name);
    }
    if (gen) {
      at::Tensor state;
      if (archive.try_read("generator", state)) gen->set_state(state);
    }
  } catch (const c10::Error& e) {
    throw load_error(name, "corrupt training state: " + first_line(e));
  }
  return info;
}

NCAModel load_model(const std::string& path, CheckpointInfo* info) {
  if (is_json_model_file(path)) return load_distill_model(path, info);
  const std::string bytes = read_checkpoint_file(path);
  return load_model_from_memory(bytes.data(), bytes.size(), path, info);
}

NCAModel load_model_from_memory(const char* data, size_t size, const std::string& name,
                                CheckpointInfo* info_out) {
  if (looks_like_json(data, size)) return load_distill_from_memory(data, size, name, info_out);
  auto archive = open_checked_archive(data, size, name);
  auto info = read_info(archive, name);
  auto weights = read_weights(archive, name, info.model);
  NCAModel model(info.model);
  copy_weights(weights, model, name);
  if (info_out) *info_out = info;
  return model;
}

std::string resolve_model_path(const std::string& model_or_run_dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(model_or_run_dir, ec))
    return (std::filesystem::path(model_or_run_dir) / "model.pt").string();
  return model_or_run_dir;
}

}  // namespace nca
