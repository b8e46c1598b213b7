// libFuzzer target: `nca train --config FILE` on arbitrary file content, through the same CLI11
// app, error rewording and validation as the command. A bad file must end in a UsageError (exit
// 2), never in a crash, a sanitizer report or another exception. A config that is accepted must
// also survive the trip through config.toml that --resume relies on: written with to_toml() and
// read back, by the command and by parse_train_config, it gives the same config.
#include <cstddef>
#include <cstdint>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "nca/config_file.h"
#include "nca/errors.h"
#include "train_flags.h"

namespace {

// An in-memory file that CLI11 opens by name, so that the fuzzer reaches the real --config path.
class MemFile {
 public:
  MemFile() : fd_(::memfd_create("nca-fuzz-config", 0)) {
    if (fd_ < 0) __builtin_trap();
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  const std::string& set(const std::string& content) {
    if (::ftruncate(fd_, 0) != 0 ||
        ::pwrite(fd_, content.data(), content.size(), 0) != static_cast<ssize_t>(content.size()))
      __builtin_trap();
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

// Parses a config file's content as `nca train --config FILE --target t.png` does; returns the
// resolved config as TOML, or "" when it is refused (with a UsageError, as it must be).
std::string resolve(MemFile& file, const std::string& content) {
  nca::cli::TrainOptions o;
  CLI::App app("fuzz", "nca train");
  nca::cli::add_train_flags(app, o);
  std::string path = file.set(content);
  std::string name = "nca train", flag = "--config";
  char* argv[] = {name.data(), flag.data(), path.data(), nullptr};
  try {
    if (!nca::cli::parse(app, 3, argv)) return "";  // help was asked for
    o.cfg.validate();
  } catch (const nca::UsageError&) {
    return "";
  }
  return o.cfg.to_toml();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MemFile file;
  const std::string content(reinterpret_cast<const char*>(data), size);
  const std::string toml = resolve(file, content);
  if (toml.empty()) return 0;
  // The round trip of --resume: config.toml read back must give the same config, through the
  // command's parser and through the reader of config.toml (nca/config_file.h) alike.
  if (resolve(file, toml) != toml) __builtin_trap();
  if (nca::parse_train_config(toml).to_toml() != toml) __builtin_trap();
  return 0;
}
