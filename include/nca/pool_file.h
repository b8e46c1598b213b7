// pool.pt: the sample pool on disk, for --resume. Stored as the pool is kept in memory
// (SamplePool::Compact: each state's box of nonzero cells and those cells), so a pool of fresh
// seeds takes kilobytes rather than pool x C x H x W floats, and a load gives it back bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "nca/pool.h"

namespace nca {

// The layout is marked: magic "nca-pool", format 2. A file with neither and one tensor
// "states" (pool x C x H x W) is format 1, which nca wrote before, and still loads.
inline constexpr const char* kPoolMagic = "nca-pool";
inline constexpr int64_t kPoolFormat = 2;

// Which run a pool belongs to, so that a resume can refuse another run's pool.
struct PoolOrigin {
  std::string config;  // the TrainConfig (TOML) of the trainer that saved it ("": not recorded)
  int rank = -1;       // the data-parallel rank whose share it is (-1: not recorded)
};

struct PoolFile {
  SamplePool pool;
  int64_t iteration = -1;  // the training iteration it was saved at (-1: not recorded)
  PoolOrigin origin;
};

// Writes `pool` atomically to `path` (write_archive_atomically: a full disk is reported with
// its reason, and the previous file stays). Assembles no full-size tensor.
void write_pool_file(const std::string& path, const SamplePool& pool, int64_t iteration,
                     const PoolOrigin& origin = {});

// Reads a pool file, either format. Throws std::runtime_error "cannot load pool 'path': why"
// for a file that is missing, corrupt, or inconsistent (see SamplePool(const Compact&)); the
// archive is checked (check_archive) before LibTorch reads it, so nothing is allocated beyond
// what the file holds.
PoolFile read_pool_file(const std::string& path);

// read_pool_file on bytes held in memory; `name` stands for the file in messages.
PoolFile read_pool_from_memory(const char* data, size_t size, const std::string& name);

}  // namespace nca
