// Helpers shared by the unit tests: a scratch directory and the repository's data files.
#pragma once

#include <filesystem>
#include <string>

namespace nca::test {

// A fresh directory under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "nca-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string source_path(const std::string& rel) {
  return std::string(NCA_SOURCE_DIR) + "/" + rel;
}

}  // namespace nca::test
