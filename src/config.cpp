// Validation and TOML output of the configuration structs.
#include "nca/config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "nca/errors.h"
#include "nca/limits.h"

namespace nca {
namespace {

// Shortest form that reads back as the same double: 0.1, 2, 1e-08 (not 0.10000000000000001).
std::string num(double v) { return fmt::format("{}", v); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
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

std::string to_string(Arch a) { return a == Arch::Default ? "default" : "distill"; }

Arch parse_arch(const std::string& s) {
  for (auto a : {Arch::Default, Arch::Distill})
    if (s == to_string(a)) return a;
  throw UsageError("unknown arch '" + s +
                   "': choose default (no bias on the last layer) or distill (the Distill "
                   "notebook's network, with one)");
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
  if (channels < 4 || channels > limits::kMaxChannels)
    p.push_back(fmt::format("channels must be in 4..{} (RGBA and hidden), got {}",
                            limits::kMaxChannels, channels));
  if (hidden <= 0 || hidden > limits::kMaxHidden)
    p.push_back(fmt::format("hidden must be in 1..{}, got {}", limits::kMaxHidden, hidden));
  if (!(fire_rate > 0 && fire_rate <= 1))
    p.push_back("fire-rate must be in (0, 1], got " + num(fire_rate));
  if (!(alive_threshold >= 0 && alive_threshold < 1))
    p.push_back("alive-threshold must be in [0, 1), got " + num(alive_threshold));
  if (arch == Arch::Distill && perception != Perception::Distill)
    p.push_back(
        "arch distill is the Distill notebook's network, whose perception is distill (48 inputs, "
        "no laplace): leave perception out or set it to distill");
  return p;
}

void ModelConfig::validate() const {
  auto p = problems();
  if (!p.empty()) throw UsageError("invalid model config: " + join(p, "; "));
}

bool ModelConfig::operator==(const ModelConfig& o) const {
  return channels == o.channels && hidden == o.hidden && perception == o.perception &&
         fire_rate == o.fire_rate && alive_threshold == o.alive_threshold && arch == o.arch;
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
  if (size > limits::kMaxImageSide)
    p.push_back(fmt::format("size must be at most {}, got {}", limits::kMaxImageSide, size));
  // In 64 bits: size + 2 pad can pass the int range.
  if (const int64_t g = int64_t{size} + 2 * int64_t{pad}; g > limits::kMaxGridSide)
    p.push_back(fmt::format("size + 2 pad (the grid) must be at most {} cells, got {}",
                            limits::kMaxGridSide, g));
  if (max_steps > limits::kMaxSteps)
    p.push_back(fmt::format("max-steps must be at most {}, got {}", limits::kMaxSteps, max_steps));
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
  if (threads < 0 || threads > limits::max_threads())
    p.push_back(
        fmt::format("threads must be 0 (all cores) to {} ({} per core; this machine has "
                    "{} cores), got {}",
                    limits::max_threads(), limits::kThreadsPerCore, limits::cores(), threads));
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

std::vector<std::pair<std::string, std::string>> TrainConfig::values() const {
  // Verbatim between quotes: CLI11 2.1 reads a quoted value back as it is, with no escapes;
  // problems() refuses the characters it could not read back.
  auto str = [](const std::string& s) { return "\"" + s + "\""; };
  auto integer = [](int64_t v) { return std::to_string(v); };
  return {{"target", str(target)},
          {"experiment", str(to_string(experiment))},
          {"iters", integer(iters)},
          {"batch", integer(batch)},
          {"pool", integer(pool)},
          {"size", integer(size)},
          {"pad", integer(pad)},
          {"min-steps", integer(min_steps)},
          {"max-steps", integer(max_steps)},
          {"lr", num(lr)},
          {"lr-decay-at", integer(lr_decay_at)},
          {"lr-decay", num(lr_decay)},
          {"damage", integer(damage)},
          {"fire-rate", num(model.fire_rate)},
          {"alive-threshold", num(model.alive_threshold)},
          {"hidden", integer(model.hidden)},
          {"perception", str(to_string(model.perception))},
          {"arch", str(to_string(model.arch))},
          {"seed", std::to_string(seed)},
          {"device", str(device)},
          {"threads", integer(threads)},
          {"backend", str(to_string(backend))},
          {"log-every", integer(log_every)},
          {"save-every", integer(save_every)},
          {"snapshot-every", integer(snapshot_every)}};
}

std::string TrainConfig::to_toml() const {
  std::string toml =
      "# nca train: resolved configuration (flags over config file over defaults).\n"
      "# Every key is also a flag of `nca train`: --key value.\n";
  for (const auto& [key, value] : values()) toml += key + " = " + value + "\n";
  return toml;
}

std::vector<ConfigChange> config_changes(const TrainConfig& before, const TrainConfig& after) {
  const auto a = before.values(), b = after.values();
  std::vector<ConfigChange> changes;
  for (size_t i = 0; i < b.size(); ++i)
    if (a[i].second != b[i].second) changes.push_back({b[i].first, a[i].second, b[i].second});
  return changes;
}

bool fixed_on_resume(const std::string& key) {
  static const char* const kFixed[] = {"target",          "experiment", "size", "pad",
                                       "hidden",          "perception", "arch", "fire-rate",
                                       "alive-threshold", "pool",       "seed"};
  return std::find(std::begin(kFixed), std::end(kFixed), key) != std::end(kFixed);
}

std::string check_integer_text(std::string& text, bool is_unsigned) {
  const std::string shown = "'" + excerpt(text) + "'";
  size_t i = 0;
  const bool negative = !text.empty() && text[0] == '-';
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) i = 1;
  if (i == text.size() || !std::all_of(text.begin() + static_cast<long>(i), text.end(), is_digit))
    return shown + " is not a whole number in decimal digits";
  const size_t first = text.find_first_not_of('0', i);
  const std::string digits = first == std::string::npos ? "0" : text.substr(first);
  if (is_unsigned && negative && digits != "0") return shown + " must be zero or more";
  const std::string plain = (negative && digits != "0" ? "-" : "") + digits;
  errno = 0;
  if (is_unsigned)
    std::strtoull(plain.c_str(), nullptr, 10);
  else
    std::strtoll(plain.c_str(), nullptr, 10);
  if (errno == ERANGE || digits.size() > 20)
    return shown + " is out of range (" +
           (is_unsigned ? "0 to 18446744073709551615"
                        : "-9223372036854775808 to 9223372036854775807") +
           ")";
  text = plain;
  return "";
}

std::string check_float_text(const std::string& text) {
  const std::string shown = "'" + excerpt(text) + "'";
  // [+-] digits [. digits] [e [+-] digits], or [+-] . digits [...]: what a person writes.
  size_t i = 0, n = text.size();
  if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
  size_t mantissa = 0;
  while (i < n && is_digit(text[i])) ++i, ++mantissa;
  if (i < n && text[i] == '.') {
    ++i;
    while (i < n && is_digit(text[i])) ++i, ++mantissa;
  }
  bool ok = mantissa > 0;
  if (ok && i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    size_t exponent = 0;
    while (i < n && is_digit(text[i])) ++i, ++exponent;
    ok = exponent > 0;
  }
  if (!ok || i != n) return shown + " is not a decimal number (such as 0.002 or 2e-3)";
  errno = 0;
  const double v = std::strtod(text.c_str(), nullptr);
  if (errno == ERANGE || !std::isfinite(v))
    return shown + " is out of the range of a double (about 1e-308 to 1e308)";
  return "";
}

std::string check_config_text(const std::string& text,
                              const std::function<KeyKind(const std::string&)>& kind_of) {
  std::istringstream in(text);
  std::string raw;
  std::map<std::string, int> seen;
  for (int n = 1; std::getline(in, raw); ++n) {
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == '[') continue;  // sections: CLI11 names them
    const auto at = [&](const std::string& what) { return fmt::format("line {}: {}", n, what); };
    const size_t eq = line.find('=');
    if (eq == std::string::npos) return at("expected key = value, got '" + excerpt(line) + "'");
    const std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (key.empty()) return at("'" + excerpt(line) + "' has no key before '='");
    const bool quoted = !value.empty() && (value[0] == '"' || value[0] == '\'');
    std::string inner;  // between the quotes
    if (quoted) {
      const size_t close = value.find(value[0], 1);
      if (close == std::string::npos)
        return at(excerpt(key) + " = " + excerpt(value) + ": the quote is not closed");
      const std::string rest = trim(value.substr(close + 1));
      if (!rest.empty() && rest[0] != '#')
        return at(excerpt(key) + " = " + excerpt(value) + ": text after the closing quote");
      inner = value.substr(1, close - 1);
    } else {
      value = trim(value.substr(0, value.find('#')));
      if (value.empty()) return at("key '" + excerpt(key) + "' has no value");
    }
    const KeyKind kind = kind_of(key);
    if (kind == KeyKind::Unknown) continue;  // CLI11 refuses it, naming the key
    if (const auto [it, first] = seen.emplace(key, n); !first)
      return at(
          fmt::format("key '{}' is given twice (first on line {})", excerpt(key), it->second));
    if (kind == KeyKind::Number && quoted) {
      std::string number = inner;
      if (check_float_text(number).empty() || check_integer_text(number, false).empty())
        return at(fmt::format("{0} = {1}: a number is written without quotes ({0} = {2})", key,
                              excerpt(value), excerpt(inner)));
      return at(fmt::format("{} takes a number, got \"{}\"", key, excerpt(inner)));
    }
    if (kind == KeyKind::Number && !quoted && value.find(',') != std::string::npos) {
      std::string with_point = value;
      std::replace(with_point.begin(), with_point.end(), ',', '.');
      return at(fmt::format("{0} = {1}: a number is written with a point, not a comma ({0} = {2})",
                            key, excerpt(value), excerpt(with_point)));
    }
    if (kind == KeyKind::Text && !quoted)
      return at(
          fmt::format("{0} = {1}: text is written in quotes ({0} = \"{1}\")", key, excerpt(value)));
  }
  return "";
}

}  // namespace nca
