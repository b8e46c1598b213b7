// Distill's model files: the 8-bit JSON weights that the Distill article "Growing Neural Cellular
// Automata" runs in its demo (distillpub/post--growing-ca, public/webgl_models8/), read as models
// of Arch::Distill and written from them (`nca export --distill`).
//
// A file is a JSON list of two layers, each {"data_b64", "in_ch", "out_ch", "weight_scale",
// "bias_scale", "type": "uint8"}: 48 -> 128 (then ReLU) and 128 -> 16. data_b64 holds
// (in_ch + 1) x out_ch bytes, row i the weights of input i, the last row the bias; a byte b
// stands for (b / 255 - 0.5) * scale. The 48 inputs are grouped by filter (identity of channels
// 0-15, then Sobel x, then Sobel y); nca's own order is by channel (c0: id, sx, sy; c1: ...).
#pragma once

#include <cstddef>
#include <string>

#include "nca/checkpoint.h"
#include "nca/model.h"

namespace nca {

// The most a Distill model file may hold: the article's are 11 KB.
inline constexpr size_t kMaxDistillBytes = size_t{1} << 20;

// The model of every Distill file: Arch::Distill, 16 channels, hidden 128, fire rate 0.5, alive
// threshold 0.1. They were trained on a 72 x 72 grid (40 pixels and 16 cells of padding).
ModelConfig distill_model_config();

// Whether `data` reads as JSON text (its first byte after white space is '[' or '{'), which no
// checkpoint does (a checkpoint is a zip archive): how a model file is told to be Distill's.
bool looks_like_json(const char* data, size_t size);
// The same for the file at `path`, from its first bytes; false for a missing file, a directory
// or anything but a regular file (the checkpoint loader then says what is wrong with it).
bool is_json_model_file(const std::string& path);

// A model from a Distill file's bytes; `name` stands for the file in messages. Everything is
// checked (the layers, their sizes, the base64, finite positive scales): anything else throws
// UsageError "cannot load model 'name': ...". `info`: iteration 0, no target, no training config.
NCAModel load_distill_from_memory(const char* data, size_t size, const std::string& name,
                                  CheckpointInfo* info = nullptr);
// The same for a file of at most kMaxDistillBytes.
NCAModel load_distill_model(const std::string& path, CheckpointInfo* info = nullptr);

// Why `cfg` cannot be written as a Distill file ("" when it can).
std::string distill_export_unsupported(const ModelConfig& cfg);
// The file's text as the article's pack_layer writes it: per layer scale = 2 max|w| (weights and
// bias apart), byte = clip(round(w / scale * 255 + 127.5), 0, 255), the bias row last, the inputs
// grouped by filter. Throws UsageError for a model it cannot hold (distill_export_unsupported,
// or a layer that is all zero: an untrained model has no scale).
std::string distill_json(const NCAModel& model);
// distill_json written atomically to `path`.
void export_distill(const NCAModel& model, const std::string& path);

}  // namespace nca
