// The helpers of include/nca/errors.h that need c10.
#include "nca/errors.h"

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

}  // namespace nca
