// Checks a torch archive's bytes before LibTorch's loader reads them (see archive_guard.h): the
// zip directory, the TorchScript source and the pickles (archive_checks.h, one file each), each
// against what torch writes for nca's own files.
#include "nca/archive_guard.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include <caffe2/serialize/inline_container.h>

#include "archive_checks.h"
#include "nca/errors.h"

namespace nca {
namespace {

using archive::corrupt;
using archive::foreign;

// The bytes of a file held in memory, for torch's zip reader, which may ask for more than there
// is (caffe2's MemoryReadAdapter copies whatever is asked: found by fuzzing).
class BoundedReader final : public caffe2::serialize::ReadAdapterInterface {
 public:
  BoundedReader(const char* data, size_t size) : data_(data), size_(size) {}
  size_t size() const override { return size_; }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= size_) return 0;
    const size_t got = std::min<size_t>(n, size_ - pos);
    std::memcpy(buf, data_ + pos, got);
    return got;
  }

 private:
  const char* data_;
  size_t size_;
};

bool ends_with(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}
bool starts_with(const std::string& s, const std::string& p) {
  return s.compare(0, p.size(), p) == 0;
}

}  // namespace

namespace archive {

std::runtime_error corrupt(const std::string& why) {
  return std::runtime_error("not a readable checkpoint (corrupt or truncated?): " + why);
}
std::runtime_error foreign(const std::string& why) {
  return std::runtime_error("not an nca file: " + why);
}

}  // namespace archive

void check_archive(const char* data, size_t size) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  try {
    caffe2::serialize::PyTorchStreamReader zip(std::make_shared<BoundedReader>(data, size));
    const auto records = archive::read_zip_directory(bytes, size);
    const auto names = zip.getAllRecords();
    std::map<std::string, uint64_t> sizes;
    bool same = names.size() == records.size();
    for (size_t i = 0; same && i < records.size(); ++i) {
      same = names[i] == records[i].name &&
             sizes.emplace(records[i].name, records[i].unpacked).second &&
             zip.getRecordOffset(names[i]) == records[i].data_offset;
    }
    if (!same) throw corrupt("its zip directory reads two ways");
    for (const auto& r : records) {
      const bool pickle = ends_with(r.name, ".pkl") || ends_with(r.name, ".debug_pkl");
      const bool code = starts_with(r.name, "code/") && !pickle;
      if (!code && !pickle) continue;
      if (r.unpacked > (uint64_t{1} << 20) && code)
        throw foreign("it holds TorchScript code (" + excerpt(r.name) + ")");
      auto [got, n] = zip.getRecord(r.name);
      const char* text = static_cast<const char*>(got.get());
      if (code && !archive::is_plain_class_source(text, n))
        throw foreign("it holds TorchScript code (" + excerpt(r.name) + ")");
      if (pickle) {
        const std::string prefix = r.name == "data.pkl"        ? "data/"
                                   : r.name == "constants.pkl" ? "constants/"
                                                               : "";
        archive::check_pickle(excerpt(r.name), reinterpret_cast<const unsigned char*>(text), n,
                              prefix, sizes);
      }
    }
  } catch (const c10::Error& e) {
    throw corrupt(first_line(e));
  }
}

}  // namespace nca
