// TempDir for the unit tests.
#include "test_util.h"

#include "nca/config.h"

#include <atomic>
#include <stdexcept>

#include <torch/torch.h>

#include <unistd.h>

namespace nca::test {

TempDir::TempDir(const std::string& tag) {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() /
          (tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string refusal_of(const std::function<void()>& reader) {
  try {
    reader();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "accepted";
}

at::Tensor square_target(const TrainConfig& c) {
  using torch::indexing::Slice;
  auto t = torch::zeros({4, c.grid(), c.grid()});
  const auto inside = Slice(c.pad, c.pad + c.size);
  t.index_put_({0, inside, inside}, 1.0);
  t.index_put_({3, inside, inside}, 1.0);
  return t;
}

}  // namespace nca::test
