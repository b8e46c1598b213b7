// pool.pt, written compact and read back checked (pool_file.h); format 1 (one full "states"
// tensor) is still read.
#include "nca/pool_file.h"

#include <stdexcept>
#include <utility>

#include <torch/torch.h>

#include "nca/atomic_file.h"
#include "nca/checkpoint.h"
#include "nca/errors.h"

namespace nca {
namespace {

// A value the archive holds but nca would never have written: refused with its reason, where
// torch's own errors mean a corrupt file.
class Refused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

int64_t read_int(torch::serialize::InputArchive& archive, const char* key) {
  c10::IValue v;
  if (!archive.try_read(key, v)) throw Refused(std::string("it has no '") + key + "'");
  if (!v.isInt()) throw Refused(std::string("its '") + key + "' is not an integer");
  return v.toInt();
}

at::Tensor read_tensor(torch::serialize::InputArchive& archive, const char* key) {
  at::Tensor t;
  if (!archive.try_read(key, t)) throw Refused(std::string("it has no tensor '") + key + "'");
  return t;
}

// Format 1: the whole pool as one tensor.
SamplePool from_states(const at::Tensor& states) {
  if (states.dim() != 4 || states.size(0) < 1)
    throw std::runtime_error("its states are " + c10::str(states.sizes()) +
                             ", expected pool x C x H x W");
  if (states.scalar_type() != at::kFloat || !torch::isfinite(states).all().item<bool>())
    throw std::runtime_error("it holds values that are not finite float32");
  const auto s = states.sizes();
  SamplePool pool(s[0], torch::zeros({s[1], s[2], s[3]}));
  pool.set_states(states);
  return pool;
}

}  // namespace

void write_pool_file(const std::string& path, const SamplePool& pool, int64_t iteration,
                     const PoolOrigin& origin) {
  const auto c = pool.compact();
  torch::serialize::OutputArchive archive;
  archive.write("magic", c10::IValue(std::string(kPoolMagic)));
  archive.write("format", c10::IValue(kPoolFormat));
  archive.write("iteration", c10::IValue(iteration));
  archive.write("size", c10::IValue(c.shape[0]));
  archive.write("channels", c10::IValue(c.shape[1]));
  archive.write("height", c10::IValue(c.shape[2]));
  archive.write("width", c10::IValue(c.shape[3]));
  archive.write("boxes", c.boxes);
  archive.write("cells", c.cells);
  if (!origin.config.empty()) archive.write("config", c10::IValue(origin.config));
  if (origin.rank >= 0) archive.write("rank", c10::IValue(int64_t{origin.rank}));
  write_archive_atomically(path, archive);
}

PoolFile read_pool_from_memory(const char* data, size_t size, const std::string& name) {
  const std::string what = "cannot load pool '" + name + "': ";
  SamplePool::Compact compact;
  at::Tensor states;  // format 1
  int64_t iteration = -1;
  PoolOrigin origin;
  try {
    auto archive = open_checked_archive(data, size, name);
    c10::IValue magic;
    if (archive.try_read("magic", magic)) {
      if (!magic.isString() || magic.toStringRef() != kPoolMagic)
        throw Refused("not an nca pool (no nca-pool header)");
      const int64_t format = read_int(archive, "format");
      if (format != kPoolFormat)
        throw Refused("pool format " + std::to_string(format) + ", this build of nca reads 1 and " +
                      std::to_string(kPoolFormat));
      iteration = read_int(archive, "iteration");
      if (iteration < 0) throw Refused("negative iteration count");
      compact.shape = {read_int(archive, "size"), read_int(archive, "channels"),
                       read_int(archive, "height"), read_int(archive, "width")};
      compact.boxes = read_tensor(archive, "boxes");
      compact.cells = read_tensor(archive, "cells");
      // Recorded from this version on: which run saved it.
      c10::IValue config, rank;
      if (archive.try_read("config", config)) {
        if (!config.isString()) throw Refused("its 'config' is not text");
        origin.config = config.toStringRef();
      }
      if (archive.try_read("rank", rank)) {
        if (!rank.isInt() || rank.toInt() < 0 || rank.toInt() >= (int64_t{1} << 20))
          throw Refused("its 'rank' is not a process rank");
        origin.rank = static_cast<int>(rank.toInt());
      }
    } else {
      if (!archive.try_read("states", states))
        throw Refused("not an nca pool (no nca-pool header)");
      c10::IValue it;
      if (archive.try_read("iteration", it) && it.isInt()) iteration = it.toInt();
    }
  } catch (const Refused& e) {
    throw std::runtime_error(what + e.what());
  } catch (const std::exception&) {  // c10::Error, or torch::jit::ErrorReport from the unpickler
    throw std::runtime_error(what + "corrupt or truncated");
  }
  try {
    return {states.defined() ? from_states(states) : SamplePool(compact), iteration, origin};
  } catch (const std::exception& e) {
    throw std::runtime_error(what + first_line(e));
  }
}

PoolFile read_pool_file(const std::string& path) {
  const std::string bytes = read_file(path);  // its errors name the file and the reason
  return read_pool_from_memory(bytes.data(), bytes.size(), path);
}

}  // namespace nca
