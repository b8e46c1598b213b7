// What nca lets LibTorch read: a torch archive (checkpoint, pool.pt) is checked here, from its
// bytes, before torch's loader sees it, because that loader trusts the lengths and shapes a file
// claims (found by fuzzing: it crashes on hostile TorchScript, allocates 4 GB for a string a
// 29 KB file claims, and 27 GB for a memo slot).
#pragma once

#include <cstddef>

namespace nca {

// Throws std::runtime_error with the reason, worded for a user ("not a readable checkpoint
// (corrupt or truncated?): ..." or "not an nca file: ..."), unless the archive is shaped like
// the ones nca writes:
// - its zip directory agrees with torch's reader, and every record unpacks to a size the file
//   can hold (stored) or to at most 16 MB (compressed);
// - its TorchScript source (code/*.py) is only the plain attribute classes torch writes for
//   nca's modules;
// - its pickles (data.pkl, constants.pkl, *.debug_pkl) use only the opcodes and globals torch's
//   pickler writes, every length fits in the bytes left, every storage fits in its record and
//   every tensor view fits in its storage.
void check_archive(const char* data, size_t size);

}  // namespace nca
