// The helpers of include/nca/errors.h that are not inline: LibTorch's messages, the error
// line, shell words.
#include "nca/errors.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <c10/util/Exception.h>
#include <fmt/format.h>

namespace nca {
namespace {
std::string g_program = "nca";
std::string g_argv0 = "nca";
}  // namespace

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

std::string shell_word(const std::string& path) {
  const std::string s = !path.empty() && path[0] == '-' ? "./" + path : path;
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_./-+=:,@%") == std::string::npos)
    return s;
  const bool control = std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 32 || static_cast<unsigned char>(c) == 127;
  });
  if (!control) {
    std::string quoted = "'";
    for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
  }
  std::string quoted = "$'";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      quoted += "\\n";
    } else if (c == '\t') {
      quoted += "\\t";
    } else if (u < 32 || u == 127) {
      quoted += fmt::format("\\x{:02x}", u);
    } else {
      if (c == '\'' || c == '\\') quoted += '\\';
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string error_line(const std::string& command, const std::string& what) {
  // One line of bounded length whatever the message quotes (a path, a value, a file's text),
  // shortened in the middle: its end says why.
  return "nca " + command + ": error: " + excerpt_middle(what, 400) + "\n";
}

void exit_at_once(const std::string& command, const std::string& what, int code) {
  const std::string line = error_line(command, what);
  for (size_t done = 0; done < line.size();) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::_exit(code);
}

}  // namespace nca
