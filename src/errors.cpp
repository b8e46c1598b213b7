// The helpers of include/nca/errors.h that are not inline: LibTorch's messages, the error
// line.
#include "nca/errors.h"

#include <unistd.h>

#include <c10/util/Exception.h>

namespace nca {

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
