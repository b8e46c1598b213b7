// Distill's model files, read and written (nca/distill_format.h). The JSON is read with
// nlohmann/json (Debian's nlohmann-json3-dev, in Debian 12 and 13 alike): a complete, checked
// parser for untrusted text that hands back typed values, header-only, and already carried to
// the GPU machine. RapidJSON and simdjson would parse faster, which an 11 KB file does not need.
#include "nca/distill_format.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "nca/atomic_file.h"
#include "nca/base64.h"
#include "nca/errors.h"

namespace nca {
namespace {

using nlohmann::json;

constexpr int kChannels = 16, kHidden = 128, kFilters = 3, kInputs = kChannels * kFilters;
// The scales taken. Above the largest, weights overflow a float state within a few steps; below
// the smallest, dequantised weights leave the normal floats and a file would not come back byte
// for byte. Distill's are 0.1 to 3.
constexpr double kMinScale = 1e-12, kMaxScale = 1e4;

UsageError distill_refusal(const std::string& name, const std::string& why) {
  return UsageError("cannot load model '" + name + "': not a usable Distill model file: " + why);
}

// One layer as the file holds it: (in + 1) x out bytes, the bias row last.
struct Layer {
  int in = 0, out = 0;
  float weight_scale = 0, bias_scale = 0;
  std::string bytes;

  float at(int row, int col) const {
    const auto b = static_cast<unsigned char>(bytes[static_cast<size_t>(row) * out + col]);
    const float scale = row < in ? weight_scale : bias_scale;
    return (static_cast<float>(b) / 255.0f - 0.5f) * scale;
  }
};

// A value as JSON text for a message, cut short.
std::string shown(const json& v) {
  return excerpt(v.dump(-1, ' ', false, json::error_handler_t::replace), 40);
}

// A field of a layer, refused when it is missing.
const json& field(const json& layer, const char* key, const std::string& where,
                  const std::string& name) {
  const auto it = layer.find(key);
  if (it == layer.end()) throw distill_refusal(name, where + " has no '" + key + "'");
  return *it;
}

float read_scale(const json& layer, const char* key, const std::string& where,
                 const std::string& name) {
  const json& v = field(layer, key, where, name);
  if (!v.is_number()) throw distill_refusal(name, where + " '" + key + "' is not a number");
  const double s = v.get<double>();
  if (!(s >= kMinScale && s <= kMaxScale))
    throw distill_refusal(name, fmt::format("{} '{}' must be a number from {:g} to {:g}, got {}",
                                            where, key, kMinScale, kMaxScale, shown(v)));
  return static_cast<float>(s);
}

Layer read_layer(const json& j, int index, int in, int out, const std::string& name) {
  const std::string where = fmt::format("layer {}", index + 1);
  if (!j.is_object()) throw distill_refusal(name, where + " is not an object");
  Layer l;
  for (const auto& [key, expected, dest] :
       {std::tuple{"in_ch", in, &l.in}, std::tuple{"out_ch", out, &l.out}}) {
    const json& v = field(j, key, where, name);
    if (!v.is_number_integer() || v.get<int64_t>() != expected)
      throw distill_refusal(name,
                            fmt::format("{} '{}' must be {} (the notebook's network: 48 -> 128 -> "
                                        "16), got {}",
                                        where, key, expected, shown(v)));
    *dest = expected;
  }
  const json& type = field(j, "type", where, name);
  if (!type.is_string() || type.get<std::string>() != "uint8")
    throw distill_refusal(name, where + " 'type' must be \"uint8\", got " + shown(type));
  l.weight_scale = read_scale(j, "weight_scale", where, name);
  l.bias_scale = read_scale(j, "bias_scale", where, name);
  const json& data = field(j, "data_b64", where, name);
  if (!data.is_string()) throw distill_refusal(name, where + " 'data_b64' is not a string");
  auto bytes = base64_decode(data.get_ref<const std::string&>());
  if (!bytes) throw distill_refusal(name, where + " 'data_b64' is not valid base64");
  const size_t expected = static_cast<size_t>(in + 1) * static_cast<size_t>(out);
  if (bytes->size() != expected)
    throw distill_refusal(name,
                          fmt::format("{} 'data_b64' holds {} bytes, expected {} ((in_ch + 1) x "
                                      "out_ch)",
                                      where, bytes->size(), expected));
  l.bytes = std::move(*bytes);
  return l;
}

// The two layers of a parsed file.
std::pair<Layer, Layer> read_checked_layers(const json& j, const std::string& name) {
  if (!j.is_array() || j.size() != 2)
    throw distill_refusal(name,
                          fmt::format("expected a list of two layers, got {}{}", j.type_name(),
                                      j.is_array() ? fmt::format(" of {}", j.size()) : ""));
  return {read_layer(j[0], 0, kInputs, kHidden, name),
          read_layer(j[1], 1, kHidden, kChannels, name)};
}

// The two layers of a file's text.
std::pair<Layer, Layer> read_layers(const char* data, size_t size, const std::string& name) {
  if (size > kMaxDistillBytes)
    throw distill_refusal(name,
                          fmt::format("{} bytes, more than the {} a Distill file may hold (theirs "
                                      "are 11 KB)",
                                      size, kMaxDistillBytes));
  // A file is a list of objects of scalars: anything nested deeper is dropped as it is read, so
  // that a hostile file's nesting costs no memory (and is refused below as a wrong type).
  const json::parser_callback_t shallow = [](int depth, json::parse_event_t, json&) {
    return depth <= 2;
  };
  const json j = json::parse(data, data + size, shallow, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw distill_refusal(name, "not valid JSON");
  try {
    return read_checked_layers(j, name);
  } catch (const json::exception& e) {  // none is expected: each value's type is checked first
    throw distill_refusal(name, first_line(e));
  }
}

// nca's model from the layers: the file's inputs are grouped by filter (f * 16 + c), nca's by
// channel (c * 3 + f); the file's rows are inputs, nca's weights are outputs x inputs.
NCAModel build_model(const Layer& l1, const Layer& l2) {
  NCAModel model(distill_model_config());
  torch::NoGradGuard no_grad;
  const Weights w = model->weights();
  auto w1 = torch::empty({kHidden, kInputs}), b1 = torch::empty({kHidden});
  auto w2 = torch::empty({kChannels, kHidden}), b2 = torch::empty({kChannels});
  float *a1 = w1.data_ptr<float>(), *c1 = b1.data_ptr<float>();
  float *a2 = w2.data_ptr<float>(), *c2 = b2.data_ptr<float>();
  for (int j = 0; j < kHidden; ++j) {
    for (int f = 0; f < kFilters; ++f)
      for (int c = 0; c < kChannels; ++c)
        a1[j * kInputs + c * kFilters + f] = l1.at(f * kChannels + c, j);
    c1[j] = l1.at(kInputs, j);
  }
  for (int o = 0; o < kChannels; ++o) {
    for (int j = 0; j < kHidden; ++j) a2[o * kHidden + j] = l2.at(j, o);
    c2[o] = l2.at(kHidden, o);
  }
  w.w1.copy_(w1.view(w.w1.sizes()));
  w.b1.copy_(b1);
  w.w2.copy_(w2.view(w.w2.sizes()));
  w.b2.copy_(b2);
  return model;
}

// A layer packed as pack_layer does: `rows` is (in + 1) x out floats in the file's order.
struct Packed {
  std::string bytes;
  float weight_scale = 0, bias_scale = 0;
};

Packed pack_layer(const std::vector<float>& rows, int in, int out, const char* what) {
  const size_t weights = static_cast<size_t>(in) * out;
  float wmax = 0, bmax = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!std::isfinite(rows[i]))
      throw UsageError(std::string("--distill: the ") + what + " holds values that are not finite");
    float& m = i < weights ? wmax : bmax;
    m = std::max(m, std::fabs(rows[i]));
  }
  for (const float m : {wmax, bmax}) {
    if (m == 0)
      throw UsageError(std::string("--distill: the ") + what +
                       "'s weights or bias are all zero (an untrained model?), which Distill's "
                       "8-bit format cannot hold (its scale would be 0)");
    if (const double scale = 2.0 * static_cast<double>(m);
        !(scale >= kMinScale && scale <= kMaxScale))
      throw UsageError(
          fmt::format("--distill: the {}'s largest weight, {:g}, is outside what a "
                      "Distill file holds (a scale of {:g} to {:g})",
                      what, static_cast<double>(m), kMinScale, kMaxScale));
  }
  Packed p;
  p.weight_scale = 2 * wmax;
  p.bias_scale = 2 * bmax;
  p.bytes.resize(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto scale = static_cast<double>(i < weights ? p.weight_scale : p.bias_scale);
    // nearbyint rounds halves to even, as numpy's round does.
    const double q = std::nearbyint(static_cast<double>(rows[i]) / scale * 255.0 + 127.5);
    p.bytes[i] = static_cast<char>(static_cast<unsigned char>(std::clamp(q, 0.0, 255.0)));
  }
  return p;
}

// A float as Python's repr writes it (json.dumps does): the shortest text that reads back as the
// same double, with ".0" on whole numbers.
std::string python_float(float v) {
  std::string s = fmt::format("{}", static_cast<double>(v));
  if (s.find_first_not_of("-0123456789") == std::string::npos) s += ".0";
  return s;
}

std::string layer_json(const Packed& p, int in, int out) {
  return fmt::format(
      R"({{"data_b64": "{}", "in_ch": {}, "out_ch": {}, "weight_scale": {}, "bias_scale": {}, "type": "uint8"}})",
      base64(p.bytes.data(), p.bytes.size()), in, out, python_float(p.weight_scale),
      python_float(p.bias_scale));
}

}  // namespace

ModelConfig distill_model_config() {
  ModelConfig cfg;
  cfg.channels = kChannels;
  cfg.hidden = kHidden;
  cfg.perception = Perception::Distill;
  cfg.arch = Arch::Distill;
  cfg.fire_rate = 0.5;
  cfg.alive_threshold = 0.1;
  return cfg;
}

bool looks_like_json(const char* data, size_t size) {
  size_t i = 0;
  if (size >= 3 && std::string_view(data, 3) == "\xEF\xBB\xBF") i = 3;  // a UTF-8 byte order mark
  for (; i < size; ++i) {
    const char c = data[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    return c == '[' || c == '{';
  }
  return false;
}

bool is_json_model_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  char head[64];
  in.read(head, sizeof head);
  return in.gcount() > 0 && looks_like_json(head, static_cast<size_t>(in.gcount()));
}

NCAModel load_distill_from_memory(const char* data, size_t size, const std::string& name,
                                  CheckpointInfo* info) {
  const auto [l1, l2] = read_layers(data, size, name);
  NCAModel model = build_model(l1, l2);
  if (info) {
    *info = CheckpointInfo{};
    info->model = model->config();
    info->distill_file = true;
  }
  return model;
}

NCAModel load_distill_model(const std::string& path, CheckpointInfo* info) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxDistillBytes)
    throw distill_refusal(path,
                          fmt::format("{} bytes, more than the {} a Distill file may hold (theirs "
                                      "are 11 KB)",
                                      size, kMaxDistillBytes));
  std::string bytes;
  try {
    bytes = read_file(path, kMaxDistillBytes);
  } catch (const std::runtime_error& e) {
    throw UsageError("cannot load model '" + path + "': " + e.what());
  }
  return load_distill_from_memory(bytes.data(), bytes.size(), path, info);
}

std::string distill_export_unsupported(const ModelConfig& cfg) {
  const ModelConfig d = distill_model_config();
  if (cfg.arch != Arch::Distill)
    return "Distill's format holds the notebook's network, with a bias on its last layer; this "
           "model is of the default architecture (train with --arch distill)";
  if (cfg.channels != d.channels || cfg.hidden != d.hidden || cfg.perception != d.perception)
    return fmt::format(
        "Distill's format holds 16 channels, hidden 128 and the distill perception; this model "
        "has {} channels, hidden {} and the {} perception",
        cfg.channels, cfg.hidden, to_string(cfg.perception));
  return "";
}

std::string distill_json(const NCAModel& model) {
  if (const std::string why = distill_export_unsupported(model->config()); !why.empty())
    throw UsageError("--distill: " + why);
  const Weights w = model->weights();
  const auto w1 = w.w1.detach().cpu().reshape({kHidden, kInputs}).contiguous();
  const auto b1 = w.b1.detach().cpu().contiguous();
  const auto w2 = w.w2.detach().cpu().reshape({kChannels, kHidden}).contiguous();
  const auto b2 = w.b2.detach().cpu().contiguous();
  const float *a1 = w1.data_ptr<float>(), *c1 = b1.data_ptr<float>();
  const float *a2 = w2.data_ptr<float>(), *c2 = b2.data_ptr<float>();
  std::vector<float> rows1(static_cast<size_t>(kInputs + 1) * kHidden);
  for (int j = 0; j < kHidden; ++j) {
    for (int f = 0; f < kFilters; ++f)
      for (int c = 0; c < kChannels; ++c)
        rows1[static_cast<size_t>(f * kChannels + c) * kHidden + j] =
            a1[j * kInputs + c * kFilters + f];
    rows1[static_cast<size_t>(kInputs) * kHidden + j] = c1[j];
  }
  std::vector<float> rows2(static_cast<size_t>(kHidden + 1) * kChannels);
  for (int o = 0; o < kChannels; ++o) {
    for (int j = 0; j < kHidden; ++j)
      rows2[static_cast<size_t>(j) * kChannels + o] = a2[o * kHidden + j];
    rows2[static_cast<size_t>(kHidden) * kChannels + o] = c2[o];
  }
  return "[" + layer_json(pack_layer(rows1, kInputs, kHidden, "first layer"), kInputs, kHidden) +
         ", " +
         layer_json(pack_layer(rows2, kHidden, kChannels, "last layer"), kHidden, kChannels) + "]";
}

void export_distill(const NCAModel& model, const std::string& path) {
  write_text_atomically(path, distill_json(model));
}

}  // namespace nca
