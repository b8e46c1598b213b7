// ModelConfig and TrainConfig: every hyperparameter with its default (the Distill reference
// settings, docs/design.md §2) and validate(), which explains each violated invariant.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace nca {

enum class Experiment { Growing, Persistent, Regenerating };
enum class Perception { Full, Distill };   // Full: id,sobel_x,sobel_y,laplace; Distill: no laplace
enum class Backend { Auto, Torch, Fast };  // how a step runs: Auto = Fast on the CPU, else Torch
// The update network: Default is docs/design.md §1's (no bias on the last layer, PyTorch's
// initialisation of the first); Distill is the Distill notebook's (a bias on the last layer, Keras'
// Glorot-uniform first layer with a zero bias, 48 perception inputs).
enum class Arch { Default, Distill };

std::string to_string(Experiment e);
std::string to_string(Perception p);
Experiment parse_experiment(const std::string& s);  // throws UsageError naming the choices
Perception parse_perception(const std::string& s);  // throws UsageError naming the choices
std::string to_string(Arch a);
Arch parse_arch(const std::string& s);  // throws UsageError naming the choices
std::string to_string(Backend b);
Backend parse_backend(const std::string& s);  // throws UsageError naming the choices

struct ModelConfig {
  int channels = 16;  // state channels: RGB (premultiplied), alpha, 12 hidden
  int hidden = 128;   // width of the update network's hidden layer
  Perception perception = Perception::Full;  // which fixed filters each channel sees
  double fire_rate = 0.5;                    // probability that a cell applies its update in a step
  double alive_threshold = 0.1;  // alive: max alpha over the 3x3 neighbourhood above this
  Arch arch = Arch::Default;     // default | distill: the update network (see Arch)

  bool last_bias() const { return arch == Arch::Distill; }  // the last layer has a bias
  int filters() const { return perception == Perception::Full ? 4 : 3; }
  int perception_channels() const { return channels * filters(); }
  std::vector<std::string> problems() const;  // each violated invariant, in words
  void validate() const;                      // throws UsageError listing problems()
  bool operator==(const ModelConfig& o) const;
};

struct TrainConfig {
  std::string target;  // image to grow (PNG, BMP, TGA, GIF first frame)
  Experiment experiment = Experiment::Regenerating;  // growing | persistent | regenerating
  int64_t iters = 8000;                              // training iterations
  int batch = 8;                                     // samples per iteration
  int pool = 1024;                  // sample pool size (persistent and regenerating)
  int size = 40;                    // the target is shrunk to fit size x size
  int pad = 16;                     // empty border around the target: grid = size + 2 * pad
  int min_steps = 64;               // shortest rollout (inclusive)
  int max_steps = 96;               // longest rollout (exclusive)
  double lr = 2e-3;                 // Adam learning rate
  int64_t lr_decay_at = 2000;       // iteration from which the rate is lr * lr_decay
  double lr_decay = 0.1;            // learning-rate factor after lr_decay_at
  int damage = 3;                   // regenerating: lowest-loss samples cut by a random circle
  uint64_t seed = 0;                // seeds the one generator every random draw comes from
  ModelConfig model;                // the automaton itself
  std::string device = "auto";      // auto | cpu | cuda | cuda:K
  int threads = 0;                  // CPU threads; 0 = all cores
  Backend backend = Backend::Auto;  // step implementation: fast (CPU, same results) or torch
  int log_every = 10;               // log line (non-terminal) every N iterations
  int save_every = 500;             // periodic checkpoint every N iterations; 0 = only at the end
  int snapshot_every = 100;  // pool / batch pictures and loss plot every N iterations; 0 = off
  // Data-parallel only (set by shard_config, never read from a file): this process is rank
  // `rank` of `world_size`, each holding a share of the batch. One seed per global batch, as in
  // the reference: the rank iteration % world_size reseeds its highest-loss sample.
  int rank = 0;
  int world_size = 1;

  int grid() const { return size + 2 * pad; }
  bool uses_pool() const { return experiment != Experiment::Growing; }
  int damaged_per_batch() const { return experiment == Experiment::Regenerating ? damage : 0; }
  double lr_at(int64_t iteration) const { return iteration < lr_decay_at ? lr : lr * lr_decay; }
  bool reseeds_at(int64_t iteration) const { return iteration % world_size == rank; }

  std::vector<std::string> problems() const;  // each violated invariant, in words
  void validate() const;                      // throws UsageError listing problems()
  // Every key with its value as config.toml writes it (text in quotes), in config.toml's order.
  std::vector<std::pair<std::string, std::string>> values() const;
  std::string to_toml() const;  // flat keys named like the command-line flags
};

// A key whose value differs between two configs, each value as config.toml writes it.
struct ConfigChange {
  std::string key, before, after;
};
// The keys of `after` whose values differ from `before`'s, in config.toml's order.
std::vector<ConfigChange> config_changes(const TrainConfig& before, const TrainConfig& after);
// Whether `key` is one that --resume may not change: what the model, its pool and its generator
// were made with (target, experiment, size, pad, the network, pool, seed).
bool fixed_on_resume(const std::string& key);

// Numbers read exactly as written, in flags and config files alike. CLI11 2.1 reads integers
// with strtoll's base 0 (010 is eight, 0x10 sixteen), clamps those past 64 bits to the largest,
// wraps -1 into an unsigned 18446744073709551615, and reads floats with strtold (nan, inf,
// 0x1p3). Each returns "" when `text` is a plain decimal number in range, after rewriting it to
// the form CLI11 reads as the same number (leading zeros and '+' dropped); else what is wrong.
std::string check_integer_text(std::string& text, bool is_unsigned);
std::string check_float_text(const std::string& text);

// The kinds of value a config key takes, as the command's option of that name says.
enum class KeyKind { Unknown, Number, Text, Flag };
// The lines of a TOML config file as nca reads them: `key = value`, comments and blank lines;
// each key at most once, a value on every key, numbers unquoted and text in quotes. Returns the
// first problem as "line N: ..." ("" when there is none); unknown keys, sections and the values
// themselves are left to the parser (CLI11), which names them.
std::string check_config_text(const std::string& text,
                              const std::function<KeyKind(const std::string&)>& kind_of);

}  // namespace nca
