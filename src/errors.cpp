// The helpers of include/nca/errors.h that need c10.
#include "nca/errors.h"

#include <c10/util/Exception.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace nca {
namespace {
std::string g_program = "nca";
std::string g_argv0 = "nca";
}  // namespace

std::string shell_word(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_./-+=:,@%") == std::string::npos)
    return s;
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

void set_program_name(const std::string& argv0) {
  namespace fs = std::filesystem;
  g_program = "nca";
  g_argv0 = argv0;
  if (argv0.find('/') == std::string::npos) return;  // found through PATH
  std::error_code ec;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && fs::equivalent(fs::path(dir) / "nca", argv0, ec)) return;
  }
  g_program = shell_word(argv0);
}

const std::string& program_name() { return g_program; }
const std::string& invoked_as() { return g_argv0; }

std::string first_line(const std::exception& e) {
  std::string msg;
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e))
    msg = c10->what_without_backtrace();
  else
    msg = e.what();
  return first_line(msg);
}

std::string first_line(std::string msg) {
  msg.erase(0, msg.find_first_not_of(" \n"));
  msg = msg.substr(0, msg.find('\n'));
  // LibTorch's checks start with where in its sources they failed, "[enforce fail at
  // inline_container.cc:123] ", which tells a user nothing: keep what follows.
  const std::string enforce = "[enforce fail at ";
  if (msg.rfind(enforce, 0) == 0 && msg.find("] ") != std::string::npos)
    msg = msg.substr(msg.find("] ") + 2);
  msg.erase(0, msg.find_first_not_of(" ."));
  if (msg.empty()) msg = "LibTorch failed without saying why";
  // Bounded: the text can quote a whole input back.
  return excerpt(msg, 300);
}

}  // namespace nca
