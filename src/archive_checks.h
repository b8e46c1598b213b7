// The three checks behind check_archive (include/nca/archive_guard.h), private to the library:
// the zip directory (archive_zip.cpp), the TorchScript source (archive_source.cpp) and the
// pickles (archive_pickle.cpp), each against what torch writes for nca's own files. Each throws
// corrupt() or foreign() with the reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace nca::archive {

// "not a readable checkpoint (corrupt or truncated?): WHY"
std::runtime_error corrupt(const std::string& why);
// "not an nca file: WHY"
std::runtime_error foreign(const std::string& why);

// The little-endian number of `bytes` bytes at p.
uint64_t le(const unsigned char* p, int bytes);

// ---- The zip directory (archive_zip.cpp) --------------------------------------------------------
struct ZipRecord {
  std::string name;  // without the archive's top folder, as torch's reader names it
  uint64_t unpacked = 0;
  uint64_t data_offset = 0;
};
// Every record of the zip directory of `size` bytes at `data`, as torch's reader (miniz) will see
// them, each checked to unpack to a size the file can hold (stored) or to at most 16 MB
// (compressed), and to lie inside the file.
std::vector<ZipRecord> read_zip_directory(const unsigned char* data, uint64_t size);

// ---- TorchScript source (archive_source.cpp) ----------------------------------------------------
// The classes torch writes for nca's modules: __torch__.Module or
// __torch__.___torch_mangle_N.Module, with `sep` before "Module" ('.' in TorchScript source, ' ' in
// a pickle's GLOBAL).
bool is_module_class(const std::string& name, char sep);
// Whether a code/*.py record holds only the plain attribute classes torch writes for nca.
bool is_plain_class_source(const char* text, size_t size);

// ---- Pickles (archive_pickle.cpp) ---------------------------------------------------------------
// Runs the pickle `name` of `size` bytes on a small model of torch's unpickler that knows only the
// opcodes and globals torch's pickler writes for nca. `records`: record name -> unpacked size;
// a storage key k names the record prefix + k ("data/0"), and an empty prefix holds no storages.
void check_pickle(const std::string& name, const unsigned char* data, size_t size,
                  const std::string& prefix, const std::map<std::string, uint64_t>& records);

}  // namespace nca::archive
