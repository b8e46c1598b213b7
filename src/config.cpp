// Validation and TOML output of the configuration structs.
#include "nca/config.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "nca/errors.h"

namespace nca {
namespace {

// Shortest round-trip form: 0.5, 2, 1e-08 rather than std::to_string's 0.500000.
std::string num(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

}  // namespace

std::string to_string(Experiment e) {
  switch (e) {
    case Experiment::Growing:
      return "growing";
    case Experiment::Persistent:
      return "persistent";
    case Experiment::Regenerating:
      return "regenerating";
  }
  return "?";
}

std::string to_string(Perception p) { return p == Perception::Full ? "full" : "distill"; }

Experiment parse_experiment(const std::string& s) {
  for (auto e : {Experiment::Growing, Experiment::Persistent, Experiment::Regenerating})
    if (s == to_string(e)) return e;
  throw UsageError("unknown experiment '" + s + "': choose growing, persistent or regenerating");
}

Perception parse_perception(const std::string& s) {
  for (auto p : {Perception::Full, Perception::Distill})
    if (s == to_string(p)) return p;
  throw UsageError("unknown perception '" + s +
                   "': choose full (identity, sobel x/y, laplace) or distill (no laplace)");
}

std::string to_string(Backend b) {
  switch (b) {
    case Backend::Auto:
      return "auto";
    case Backend::Torch:
      return "torch";
    case Backend::Fast:
      return "fast";
  }
  return "?";
}

Backend parse_backend(const std::string& s) {
  for (auto b : {Backend::Auto, Backend::Torch, Backend::Fast})
    if (s == to_string(b)) return b;
  throw UsageError("unknown backend '" + s +
                   "': choose auto (fast on the CPU), torch (plain LibTorch) or fast (CPU only)");
}

std::vector<std::string> ModelConfig::problems() const {
  std::vector<std::string> p;
  // The upper bounds are far above any useful model; they keep a checkpoint's header from
  // asking for a model that cannot fit in memory.
  if (channels < 4 || channels > 256)
    p.push_back("channels must be in 4..256 (RGBA and hidden), got " + std::to_string(channels));
  if (hidden <= 0 || hidden > 4096)
    p.push_back("hidden must be in 1..4096, got " + std::to_string(hidden));
  if (!(fire_rate > 0 && fire_rate <= 1))
    p.push_back("fire-rate must be in (0, 1], got " + num(fire_rate));
  if (!(alive_threshold >= 0 && alive_threshold < 1))
    p.push_back("alive-threshold must be in [0, 1), got " + num(alive_threshold));
  return p;
}

void ModelConfig::validate() const {
  auto p = problems();
  if (!p.empty()) throw UsageError("invalid model config: " + join(p, "; "));
}

bool ModelConfig::operator==(const ModelConfig& o) const {
  return channels == o.channels && hidden == o.hidden && perception == o.perception &&
         fire_rate == o.fire_rate && alive_threshold == o.alive_threshold;
}

std::vector<std::string> TrainConfig::problems() const {
  std::vector<std::string> p = model.problems();
  auto positive = [&](const char* name, int64_t v) {
    if (v <= 0) p.push_back(std::string(name) + " must be positive, got " + std::to_string(v));
  };
  positive("iters", iters);
  positive("batch", batch);
  positive("size", size);
  positive("min-steps", min_steps);
  if (pad < 0) p.push_back("pad must be zero or more, got " + std::to_string(pad));
  if (size > 4096 || pad > 4096) p.push_back("size and pad must be at most 4096");
  if (min_steps >= max_steps)
    p.push_back("min-steps (" + std::to_string(min_steps) + ") must be less than max-steps (" +
                std::to_string(max_steps) + "), which is exclusive");
  if (uses_pool()) {
    positive("pool", pool);
    if (batch > pool)
      p.push_back("batch (" + std::to_string(batch) + ") cannot be larger than pool (" +
                  std::to_string(pool) + ")");
  }
  if (experiment == Experiment::Regenerating && (damage < 0 || damage >= batch))
    p.push_back("damage (" + std::to_string(damage) + ") must be at least 0 and less than batch (" +
                std::to_string(batch) + "): one sample is always a fresh seed");
  // Adam's step is lr / (1 - 0.9^t), at most 10 lr, and torch refuses a step size beyond the
  // float range: bound lr well inside it.
  constexpr double kMaxLr = 1e30;
  if (!(lr > 0 && lr <= kMaxLr))
    p.push_back("lr must be positive and at most 1e30, got " + num(lr));
  if (!(lr_decay > 0 && lr * lr_decay <= kMaxLr))
    p.push_back("lr-decay must be positive, with lr * lr-decay at most 1e30, got " + num(lr_decay));
  if (lr_decay_at < 0) p.push_back("lr-decay-at must be zero or more");
  if (threads < 0) p.push_back("threads must be zero (all cores) or more");
  if (log_every <= 0) p.push_back("log-every must be positive");
  if (save_every < 0) p.push_back("save-every must be zero (only at the end) or more");
  if (snapshot_every < 0) p.push_back("snapshot-every must be zero (off) or more");
  // The run's config.toml must give back these strings on --resume, and CLI11's config reader
  // has no escapes: it cuts a value at '#' and treats quotes and backslashes its own way.
  for (const auto& [name, value] : {std::pair{"target", &target}, std::pair{"device", &device}}) {
    const bool storable = std::none_of(value->begin(), value->end(), [](char c) {
      return c == '"' || c == '\\' || c == '#' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    const std::string shown = excerpt(*value, value->size());
    if (!storable)
      p.push_back(std::string(name) + " '" + shown +
                  "' holds a quote, backslash, '#' or control character, which the run's "
                  "config.toml could not hold: rename the file");
  }
  return p;
}

void TrainConfig::validate() const {
  auto p = problems();
  if (!p.empty()) throw UsageError("invalid config: " + join(p, "; "));
}

std::string TrainConfig::to_toml() const {
  std::ostringstream o;
  o << std::setprecision(17);
  // Verbatim between quotes: CLI11 2.1 reads a quoted value back as it is, with no escapes;
  // problems() refuses the characters it could not read back.
  auto str = [](const std::string& s) { return "\"" + s + "\""; };
  o << "# nca train: resolved configuration (flags over config file over defaults).\n"
    << "# Every key is also a flag of `nca train`: --key value.\n"
    << "target = " << str(target) << "\n"
    << "experiment = " << str(to_string(experiment)) << "\n"
    << "iters = " << iters << "\n"
    << "batch = " << batch << "\n"
    << "pool = " << pool << "\n"
    << "size = " << size << "\n"
    << "pad = " << pad << "\n"
    << "min-steps = " << min_steps << "\n"
    << "max-steps = " << max_steps << "\n"
    << "lr = " << lr << "\n"
    << "lr-decay-at = " << lr_decay_at << "\n"
    << "lr-decay = " << lr_decay << "\n"
    << "damage = " << damage << "\n"
    << "fire-rate = " << model.fire_rate << "\n"
    << "alive-threshold = " << model.alive_threshold << "\n"
    << "hidden = " << model.hidden << "\n"
    << "perception = " << str(to_string(model.perception)) << "\n"
    << "seed = " << seed << "\n"
    << "device = " << str(device) << "\n"
    << "threads = " << threads << "\n"
    << "backend = " << str(to_string(backend)) << "\n"
    << "log-every = " << log_every << "\n"
    << "save-every = " << save_every << "\n"
    << "snapshot-every = " << snapshot_every << "\n";
  return o.str();
}

}  // namespace nca
