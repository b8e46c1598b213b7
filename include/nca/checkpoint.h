// Checkpoints: model + optimiser + config + iteration + generator state + format version,
// written atomically and checked on load.
#pragma once

#include <string>

#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "nca/config.h"
#include "nca/model.h"

namespace nca {

inline constexpr int64_t kCheckpointFormat = 1;
inline constexpr const char* kCheckpointMagic = "nca-checkpoint";

struct CheckpointInfo {
  int64_t format = kCheckpointFormat;
  int64_t iteration = 0;      // training iterations completed
  ModelConfig model;          // what the weights belong to
  std::string train_config;   // the resolved TrainConfig as TOML (informational)
  at::Tensor target;          // 4 x H x W the model learnt to grow (undefined if not stored)
  bool distill_file = false;  // read from a Distill model file (distill_format.h): weights only
};

// Writes model (+ optimiser and generator state when given) atomically to `path`.
void save_checkpoint(const std::string& path, const NCAModel& model, const CheckpointInfo& info,
                     const torch::optim::Optimizer* optimizer = nullptr,
                     const at::Generator* gen = nullptr);

// Writes a torch archive atomically (write_bytes_atomically: a full disk is reported with its
// reason, and the previous file stays).
void write_archive_atomically(const std::string& path, torch::serialize::OutputArchive& archive);

// Opens a torch archive held in memory (a checkpoint, pool.pt) once check_archive
// (archive_guard.h) has found it shaped like one of nca's, because LibTorch's loader trusts
// what the file claims. Throws std::runtime_error ("cannot load model 'path': ...") otherwise,
// or when it is corrupt.
torch::serialize::InputArchive open_checked_archive(const char* data, size_t size,
                                                    const std::string& path);

// Reads and checks the header: magic, format version, model config. Throws std::runtime_error
// ("cannot load model 'x': ...") for a missing, corrupt, truncated or foreign file.
// Every function here that reads a model file also takes Distill's model files, told apart by
// their content (distill_format.h: JSON, not a zip archive); a bad one is a UsageError.
CheckpointInfo read_checkpoint_info(const std::string& path);

// A model built from the checkpoint's own config, weights loaded, on the CPU. Every tensor is
// checked (shape, type, finite values) before it is used, and the model is only built once the
// stored weights prove its size, so a hostile file cannot make it allocate more than it holds.
NCAModel load_model(const std::string& path, CheckpointInfo* info = nullptr);

// load_model on a checkpoint held in memory (the file functions read the file and call this);
// `name` stands for the file in messages.
NCAModel load_model_from_memory(const char* data, size_t size, const std::string& name,
                                CheckpointInfo* info = nullptr);

// Restores weights into `model` (whose config must equal the checkpoint's), and the optimiser
// and generator state when given and present.
CheckpointInfo load_checkpoint(const std::string& path, NCAModel& model,
                               torch::optim::Optimizer* optimizer = nullptr,
                               at::Generator* gen = nullptr);

// load_checkpoint on a checkpoint held in memory; `name` stands for the file in messages.
CheckpointInfo load_checkpoint_from_memory(const char* data, size_t size, const std::string& name,
                                           NCAModel& model,
                                           torch::optim::Optimizer* optimizer = nullptr,
                                           at::Generator* gen = nullptr);

// A model path from what the user typed: a run directory means its model.pt.
std::string resolve_model_path(const std::string& model_or_run_dir);

}  // namespace nca
