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
  msg.erase(0, msg.find_first_not_of(" \n"));
  return msg.substr(0, msg.find('\n'));
}

}  // namespace nca
