// nca_train_trace (test-only, never installed): a few training iterations of nca's Trainer with
// everything they drew written out, so that tests/training/check_training.py can replay them in
// an implementation of docs/design.md §1-2 written without nca's code and compare.
//
//   nca_train_trace TARGET OUT_DIR [fast|torch]
//
// OUT_DIR gets run.json (the configuration, and per iteration nca's loss, rollout length and the
// files below), target.bin, the initial weights (init_<name>.bin), and per iteration K:
// batch_K.bin (the batch the rollout started from), fire_K.bin (steps x N x H x W), damage_K.bin,
// indices in run.json, the weights after the update (iter_K_<name>.bin); pool.bin at the end.
// Every .bin is raw little-endian float32, C order, its shape given in run.json.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <torch/torch.h>

#include "nca/atomic_file.h"
#include "nca/config.h"
#include "nca/fast_step.h"
#include "nca/image_io.h"
#include "nca/trainer.h"

namespace {

// The run: regenerating on a 24 x 24 grid. The pool is small so that the third iteration
// samples states the earlier ones wrote back; lr drops before the third iteration; fire rate
// and alive threshold differ from their defaults, so that a value lost on its way to the model
// changes the result.
nca::TrainConfig run_config(const std::string& target, nca::Backend backend) {
  nca::TrainConfig c;
  c.target = target;
  c.experiment = nca::Experiment::Regenerating;
  c.size = 16;
  c.pad = 4;
  c.batch = 8;
  c.pool = 12;
  c.min_steps = 12;
  c.max_steps = 20;
  c.damage = 3;
  c.lr = 2e-3;
  c.lr_decay_at = 2;
  c.lr_decay = 0.1;
  c.seed = 11;
  c.model.fire_rate = 0.6;
  c.model.alive_threshold = 0.15;
  c.device = "cpu";
  c.backend = backend;
  return c;
}
constexpr int kIterations = 3;

// Writes t as raw float32 and returns its shape as a JSON list.
std::string write_bin(const std::string& path, const at::Tensor& t) {
  const auto v = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data_ptr<float>()),
          static_cast<std::streamsize>(v.numel() * sizeof(float)));
  if (!f) throw std::runtime_error("cannot write '" + path + "'");
  std::string shape = "[";
  for (int64_t d = 0; d < v.dim(); ++d) shape += (d ? "," : "") + std::to_string(v.size(d));
  return shape + "]";
}

std::string json_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// {"name": shape, ...} for the model's parameters, written as PREFIX<name>.bin.
std::string write_weights(nca::NCAModel& model, const std::string& dir, const std::string& prefix) {
  std::string json = "{";
  for (const auto& p : model->named_parameters())
    json += std::string(json.size() > 1 ? "," : "") + "\"" + p.key() +
            "\":" + write_bin(dir + "/" + prefix + p.key() + ".bin", p.value());
  return json + "}";
}

int run(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: nca_train_trace TARGET OUT_DIR [fast|torch]\n";
    return 2;
  }
  const std::string dir = argv[2];
  const auto backend = argc > 3 ? nca::parse_backend(argv[3]) : nca::Backend::Fast;
  const auto cfg = run_config(argv[1], backend);
  torch::set_num_threads(1);
  const auto target = nca::target_tensor(nca::load_target(cfg.target, cfg.size, cfg.pad));
  nca::Trainer trainer(cfg, target, torch::kCPU);
  const auto& m = cfg.model;

  std::string json =
      "{\"experiment\":\"" + nca::to_string(cfg.experiment) + "\"" + ",\"backend\":\"" +
      nca::to_string(trainer.stepper()->backend()) + "\"" +
      ",\"grid\":" + std::to_string(cfg.grid()) + ",\"channels\":" + std::to_string(m.channels) +
      ",\"hidden\":" + std::to_string(m.hidden) + ",\"batch\":" + std::to_string(cfg.batch) +
      ",\"pool\":" + std::to_string(cfg.pool) + ",\"damage\":" + std::to_string(cfg.damage) +
      ",\"min_steps\":" + std::to_string(cfg.min_steps) +
      ",\"max_steps\":" + std::to_string(cfg.max_steps) +
      ",\"fire_rate\":" + json_number(m.fire_rate) +
      ",\"alive_threshold\":" + json_number(m.alive_threshold) + ",\"lr\":" + json_number(cfg.lr) +
      ",\"lr_decay_at\":" + std::to_string(cfg.lr_decay_at) +
      ",\"lr_decay\":" + json_number(cfg.lr_decay) +
      ",\"target\":" + write_bin(dir + "/target.bin", trainer.target()) +
      ",\"init\":" + write_weights(trainer.model(), dir, "init_") + ",\"iterations\":[";
  nca::IterationTrace trace;
  trainer.set_trace(&trace);
  for (int k = 0; k < kIterations; ++k) {
    const auto stats = trainer.step();
    if (stats.skipped) throw std::runtime_error("iteration skipped: " + stats.skip_reason);
    const std::string it = std::to_string(k);
    std::string indices = "[";
    for (int64_t i = 0; i < trace.indices.numel(); ++i)
      indices += (i ? "," : "") + std::to_string(trace.indices[i].item<int64_t>());
    json += std::string(k ? "," : "") + "{\"loss\":" + json_number(stats.loss) +
            ",\"steps\":" + std::to_string(stats.steps) + ",\"lr\":" + json_number(stats.lr) +
            ",\"indices\":" + indices + "]" +
            ",\"batch\":" + write_bin(dir + "/batch_" + it + ".bin", trace.batch) + ",\"fire\":" +
            write_bin(dir + "/fire_" + it + ".bin", torch::stack(trace.fire).squeeze(2)) +
            ",\"damage\":" + write_bin(dir + "/damage_" + it + ".bin", trace.damage) +
            ",\"weights\":" + write_weights(trainer.model(), dir, "iter_" + it + "_") + "}";
  }
  json += "],\"pool_states\":" + write_bin(dir + "/pool.bin", trainer.pool()->states()) + "}\n";
  nca::write_text_atomically(dir + "/run.json", json);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "nca_train_trace: error: " << e.what() << "\n";
    return 1;
  }
}
