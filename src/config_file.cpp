// TrainConfig's keys as CLI11 options, and the one reader of config files (nca/config_file.h).
#include "nca/config_file.h"

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <fmt/format.h>

#include "nca/atomic_file.h"
#include "nca/errors.h"

namespace nca {
namespace {

// An enum option bound directly to `value`: it reads the names to_string writes, through
// `parse` (which refuses any other with UsageError, naming the choices), and shows itself in
// --help as text with its default's name.
template <typename E>
CLI::Option* add_enum_option(CLI::App& app, const std::string& name, E& value,
                             E (*parse)(const std::string&), const std::string& description) {
  return app.add_option(name, value, description)
      ->transform(
          [parse](const std::string& s) { return std::to_string(static_cast<int>(parse(s))); }, "",
          "")
      ->type_name("TEXT")
      ->default_str(to_string(value));
}

// What kind of value each key of `app` takes, as its option says.
KeyKind key_kind(const CLI::App& app, const std::string& key) {
  const CLI::Option* opt = app.get_option_no_throw("--" + key);
  if (!opt) return KeyKind::Unknown;
  // A flag takes no value on the command line (CLI11 tells it so in a config file too).
  if (opt->get_expected_min() == 0) return KeyKind::Flag;
  const std::string type = opt->get_type_name();
  for (const char* number : {"INT", "UINT", "FLOAT"})
    if (type.rfind(number, 0) == 0) return KeyKind::Number;
  return KeyKind::Text;
}

std::string check_text(const CLI::App& app, const std::string& text) {
  return check_config_text(text, [&](const std::string& key) { return key_kind(app, key); });
}

}  // namespace

void add_config_options(CLI::App& app, TrainConfig& c, ConfigPart part) {
  auto& m = c.model;
  if (part == ConfigPart::Output) {
    const std::string run = "Run";
    app.add_option("--log-every", c.log_every, "Log line every N iterations (when not a terminal)")
        ->capture_default_str()
        ->group(run);
    app.add_option("--save-every", c.save_every,
                   "Checkpoint every N iterations into checkpoints/ (0: only model.pt at the end)")
        ->capture_default_str()
        ->group(run);
    app.add_option("--snapshot-every", c.snapshot_every,
                   "Pictures (pool, batch, loss curve) every N iterations (0: off)")
        ->capture_default_str()
        ->group(run);
    return;
  }
  const std::string what = "What to train";
  app.add_option("--target", c.target, "Target image (PNG, BMP, TGA, GIF)")->group(what);
  add_enum_option(app, "--experiment", c.experiment, parse_experiment,
                  "growing | persistent | regenerating")
      ->group(what);
  app.add_option("--size", c.size, "Shrink the target to fit SIZE x SIZE pixels")
      ->capture_default_str()
      ->group(what);
  app.add_option("--pad", c.pad, "Empty border around the target (grid = size + 2 pad)")
      ->capture_default_str()
      ->group(what);
  const std::string training = "Training";
  app.add_option("--iters", c.iters, "Training iterations")->capture_default_str()->group(training);
  app.add_option("--batch", c.batch, "Samples per iteration")
      ->capture_default_str()
      ->group(training);
  app.add_option("--pool", c.pool, "Sample pool size")->capture_default_str()->group(training);
  app.add_option("--min-steps", c.min_steps, "Shortest rollout (inclusive)")
      ->capture_default_str()
      ->group(training);
  app.add_option("--max-steps", c.max_steps, "Longest rollout (exclusive)")
      ->capture_default_str()
      ->group(training);
  app.add_option("--lr", c.lr, "Adam learning rate")->capture_default_str()->group(training);
  app.add_option("--lr-decay-at", c.lr_decay_at,
                 "Iteration from which lr is multiplied by lr-decay")
      ->capture_default_str()
      ->group(training);
  app.add_option("--lr-decay", c.lr_decay, "Learning-rate factor after lr-decay-at")
      ->capture_default_str()
      ->group(training);
  app.add_option("--damage", c.damage, "Regenerating: lowest-loss samples cut by a random circle")
      ->capture_default_str()
      ->group(training);
  app.add_option("--seed", c.seed, help::kSeed)->capture_default_str()->group(training);
  const std::string model = "Model";
  app.add_option("--hidden", m.hidden, "Hidden width of the update network")
      ->capture_default_str()
      ->group(model);
  app.add_option("--fire-rate", m.fire_rate, "Probability that a cell updates in a step")
      ->capture_default_str()
      ->group(model);
  app.add_option("--alive-threshold", m.alive_threshold,
                 "Alive: max alpha over the 3x3 neighbourhood above this")
      ->capture_default_str()
      ->group(model);
  add_enum_option(app, "--perception", m.perception, parse_perception,
                  "full (identity, sobel x/y, laplace) | distill (no laplace)")
      ->group(model);
  // The Distill notebook's network sees 48 inputs: unless perception is given too, the arch
  // brings its own (a perception given otherwise is refused by ModelConfig::problems).
  const std::string distill = std::to_string(static_cast<int>(Arch::Distill));
  add_enum_option(app, "--arch", m.arch, parse_arch,
                  "default | distill: the Distill notebook's network (perception distill, a bias "
                  "on the last layer, Glorot-uniform first layer: 8,336 parameters)")
      ->group(model)
      ->each([&app, &m, distill](const std::string& value) {
        const CLI::Option* perception = app.get_option_no_throw("--perception");
        if (value == distill && (perception == nullptr || perception->count() == 0))
          m.perception = Perception::Distill;
      });
  const std::string run = "Run";
  app.add_option("--device", c.device, help::kDevice)->capture_default_str()->group(run);
  app.add_option("--threads", c.threads, help::kThreads)->capture_default_str()->group(run);
  add_enum_option(app, "--backend", c.backend, parse_backend, help::kBackend)->group(run);
}

void check_config_file(const CLI::App& app, const std::string& path) {
  std::error_code ec;
  // A missing file is CLI11's to report.
  if (!std::filesystem::exists(path, ec)) return;
  check_readable_file(path, kMaxConfigBytes);
  const std::string problem = check_text(app, read_file(path, kMaxConfigBytes));
  if (!problem.empty()) throw UsageError("config file '" + excerpt(path) + "' " + problem);
}

void make_numbers_exact(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    if (opt->get_type_size() == 0) continue;  // a flag
    const std::string type = opt->get_type_name();
    const bool is_unsigned = type.rfind("UINT", 0) == 0;
    if (is_unsigned || type.rfind("INT", 0) == 0) {
      opt->transform(
          [is_unsigned](std::string s) {
            const std::string problem = check_integer_text(s, is_unsigned);
            if (!problem.empty()) throw CLI::ValidationError(problem);
            return s;
          },
          "", "exact integer");
    } else if (type.rfind("FLOAT", 0) == 0) {
      opt->transform(
          [](std::string s) {
            const std::string problem = check_float_text(s);
            if (!problem.empty()) throw CLI::ValidationError(problem);
            // CLI11 reads a float with strtold and rounds that to double: rounded twice, a
            // value can land one bit off the double it names. The correctly rounded double,
            // written in hexadecimal, passes through both roundings unchanged.
            return fmt::format("{:a}", std::strtod(s.c_str(), nullptr));
          },
          "", "exact number");
    }
  }
}

TrainConfig parse_train_config(const std::string& text) {
  TrainConfig cfg;
  CLI::App app("", "config");
  add_config_options(app, cfg, ConfigPart::Settings);
  add_config_options(app, cfg, ConfigPart::Output);
  app.allow_config_extras(CLI::config_extras_mode::error);
  make_numbers_exact(app);
  if (const std::string problem = check_text(app, text); !problem.empty())
    throw UsageError(problem);
  std::istringstream in(text);
  try {
    app.parse_from_stream(in);
  } catch (const CLI::ParseError& e) {
    throw UsageError(excerpt(e.what(), 300));
  }
  return cfg;
}

TrainConfig read_train_config(const std::string& path) {
  try {
    return parse_train_config(read_file(path, kMaxConfigBytes));
  } catch (const UsageError& e) {
    throw UsageError("config file '" + excerpt(path) + "' " + e.what());
  }
}

}  // namespace nca
