// The zip-directory check of the archive guard (archive_checks.h).
#include <string>
#include <vector>

#include "archive_checks.h"
#include "nca/errors.h"

namespace nca::archive {

// torch's reader (miniz) allocates the unpacked size a record claims before unpacking it, and
// offers no way to ask for that size first, so the directory is read here too. Both readers must
// then agree on the names, their order and where each record's data starts, so the sizes checked
// here are the ones torch will use.

uint64_t le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

namespace {

constexpr uint64_t kMaxDeflatedRecord = uint64_t{16} << 20;
constexpr uint64_t kMaxRecords = 100000;

}  // namespace

std::vector<ZipRecord> read_zip_directory(const unsigned char* d, uint64_t n) {
  const auto bad = [](const std::string& what) { return corrupt("its zip directory " + what); };
  constexpr uint64_t kEnd = 22, kLocator = 20, kEnd64 = 56, kEntry = 46, kLocal = 30;
  if (n < kEnd) throw bad("is missing");
  // The last end-of-directory signature with room for the record after it, as miniz finds it.
  uint64_t end = n - kEnd + 1;
  const uint64_t lowest = n - kEnd > 0xFFFF ? n - kEnd - 0xFFFF : 0;
  do {
    --end;
    if (le(d + end, 4) == 0x06054b50) break;
    if (end == lowest) throw bad("is missing");
  } while (true);
  uint64_t entries = le(d + end + 10, 2), dir_size = le(d + end + 12, 4),
           dir_offset = le(d + end + 16, 4);
  if (end >= kLocator && le(d + end - kLocator, 4) == 0x07064b50) {
    const uint64_t at = le(d + end - kLocator + 8, 8);
    if (n < kEnd64 || at > n - kEnd64 || le(d + at, 4) != 0x06064b50)
      throw bad("has a broken zip64 record");
    entries = le(d + at + 32, 8);
    dir_size = le(d + at + 40, 8);
    dir_offset = le(d + at + 48, 8);
  }
  if (entries > kMaxRecords || dir_offset > n || dir_size > n - dir_offset)
    throw bad("claims more than the file holds");
  std::vector<ZipRecord> records;
  const unsigned char* p = d + dir_offset;
  const unsigned char* dir_end = p + dir_size;
  for (uint64_t i = 0; i < entries; ++i) {
    if (dir_end - p < static_cast<std::ptrdiff_t>(kEntry) || le(p, 4) != 0x02014b50)
      throw bad("is cut short");
    const uint64_t method = le(p + 10, 2), packed = le(p + 20, 4), unpacked = le(p + 24, 4),
                   name_len = le(p + 28, 2), extra_len = le(p + 30, 2), comment_len = le(p + 32, 2),
                   local = le(p + 42, 4);
    if (static_cast<uint64_t>(dir_end - p) < kEntry + name_len + extra_len + comment_len)
      throw bad("is cut short");
    std::string name(reinterpret_cast<const char*>(p + kEntry), name_len);
    p += kEntry + name_len + extra_len + comment_len;
    // nca's files are far below 4 GB, so the zip64 per-record fields are never needed.
    if (packed == 0xFFFFFFFF || unpacked == 0xFFFFFFFF || local == 0xFFFFFFFF)
      throw bad("has a record of 4 GB or more: " + excerpt(name));
    const auto slash = name.find('/');
    if (slash == std::string::npos || name.size() > 255 || name.find('\0') != std::string::npos)
      throw bad("has a record with an unusable name");
    name.erase(0, slash + 1);
    if (method != 0 && method != 8)
      throw bad("has a record packed in an unknown way: " + excerpt(name));
    if (method == 0 ? packed != unpacked : unpacked > kMaxDeflatedRecord)
      throw bad("has a record that claims " + std::to_string(unpacked) +
                " bytes: " + excerpt(name));
    if (n < kLocal || local > n - kLocal || le(d + local, 4) != 0x04034b50)
      throw bad("points outside the file for " + excerpt(name));
    const uint64_t data = local + kLocal + le(d + local + 26, 2) + le(d + local + 28, 2);
    if (data > n || packed > n - data) throw bad("points outside the file for " + excerpt(name));
    records.push_back({name, unpacked, data});
  }
  return records;
}

}  // namespace nca::archive
