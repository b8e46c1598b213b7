// Helpers shared by the unit tests: a scratch directory and the repository's data files.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace at {
class Tensor;
}
namespace nca {
struct TrainConfig;
}

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

// What `reader` throws as std::runtime_error, or "accepted" when it returns.
std::string refusal_of(const std::function<void()>& reader);

// A filled square target (alpha and red) of the config's size, centred in its padded grid.
at::Tensor square_target(const TrainConfig& c);

}  // namespace nca::test
