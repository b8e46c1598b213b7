// Checkpoint files: one torch archive with a header (magic, format, config), the weights, and
// optionally the optimiser and generator state. Written atomically; checked on load.
#include "nca/checkpoint.h"

#include <filesystem>
#include <sstream>

#include <torch/torch.h>

#include "nca/atomic_file.h"

namespace nca {
namespace {

std::runtime_error load_error(const std::string& path, const std::string& why) {
  return std::runtime_error("cannot load model '" + path + "': " + why);
}

// c10::Error messages carry a C++ backtrace; users need only the first line.
std::string first_line(const c10::Error& e) {
  std::string msg = e.what_without_backtrace();
  return msg.substr(0, msg.find('\n'));
}

torch::serialize::InputArchive open_archive(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw load_error(path, "no such file");
  if (std::filesystem::is_directory(path, ec)) throw load_error(path, "is a directory");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw load_error(path, "not a readable checkpoint (corrupt or truncated?): " + first_line(e));
  }
  return archive;
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

CheckpointInfo read_info(torch::serialize::InputArchive& archive, const std::string& path) {
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
  info.model.channels = static_cast<int>(read_value<int64_t>(archive, path, "model.channels"));
  info.model.hidden = static_cast<int>(read_value<int64_t>(archive, path, "model.hidden"));
  try {
    info.model.perception =
        parse_perception(read_value<std::string>(archive, path, "model.perception"));
  } catch (const std::invalid_argument& e) {
    throw load_error(path, e.what());
  }
  info.model.fire_rate = read_value<double>(archive, path, "model.fire_rate");
  info.model.alive_threshold = read_value<double>(archive, path, "model.alive_threshold");
  info.train_config = read_value<std::string>(archive, path, "train_config");
  at::Tensor target;
  if (archive.try_read("target", target)) {
    if (target.dim() != 3 || target.size(0) != 4 || target.size(1) < 1 || target.size(2) < 1)
      throw load_error(
          path, "stored target has shape " + c10::str(target.sizes()) + ", expected 4 x H x W");
    info.target = target;
  }
  auto problems = info.model.problems();
  if (!problems.empty()) throw load_error(path, "invalid model config: " + problems.front());
  if (info.iteration < 0) throw load_error(path, "negative iteration count");
  return info;
}

std::string describe(const ModelConfig& m) {
  std::ostringstream o;
  o << m.channels << " channels, hidden " << m.hidden << ", " << to_string(m.perception)
    << " perception, fire rate " << m.fire_rate << ", alive threshold " << m.alive_threshold;
  return o.str();
}

}  // namespace

void save_checkpoint(const std::string& path, const NCAModel& model, const CheckpointInfo& info,
                     const torch::optim::Optimizer* optimizer, const at::Generator* gen) {
  write_atomically(path, [&](const std::string& tmp) {
    torch::serialize::OutputArchive archive;
    archive.write("magic", c10::IValue(std::string(kCheckpointMagic)));
    archive.write("format", c10::IValue(info.format));
    archive.write("iteration", c10::IValue(info.iteration));
    archive.write("model.channels", c10::IValue(static_cast<int64_t>(info.model.channels)));
    archive.write("model.hidden", c10::IValue(static_cast<int64_t>(info.model.hidden)));
    archive.write("model.perception", c10::IValue(to_string(info.model.perception)));
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
    try {
      archive.save_to(tmp);
    } catch (const c10::Error& e) {
      throw std::runtime_error(first_line(e));
    }
  });
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  auto archive = open_archive(path);
  return read_info(archive, path);
}

CheckpointInfo load_checkpoint(const std::string& path, NCAModel& model,
                               torch::optim::Optimizer* optimizer, at::Generator* gen) {
  auto archive = open_archive(path);
  auto info = read_info(archive, path);
  if (!(info.model == model->config()))
    throw load_error(path, "it was trained with " + describe(info.model) + "; this run expects " +
                               describe(model->config()));
  try {
    torch::serialize::InputArchive weights;
    archive.read("model", weights);
    model->load(weights);
    if (optimizer) {
      torch::serialize::InputArchive opt;
      if (!archive.try_read("optimizer", opt))
        throw load_error(path, "it holds no optimiser state (a model, not a training checkpoint)");
      optimizer->load(opt);
    }
    if (gen) {
      at::Tensor state;
      if (archive.try_read("generator", state)) gen->set_state(state);
    }
  } catch (const c10::Error& e) {
    throw load_error(path, "corrupt weights: " + first_line(e));
  }
  return info;
}

NCAModel load_model(const std::string& path, CheckpointInfo* info_out) {
  auto info = read_checkpoint_info(path);
  NCAModel model(info.model);
  load_checkpoint(path, model);
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
