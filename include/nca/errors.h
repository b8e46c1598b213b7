// Error types that decide the exit code: UsageError is the user's input (exit 2),
// anything else derived from std::exception is a runtime failure (exit 1).
#pragma once

#include <stdexcept>
#include <string>

namespace nca {

// Bad input that the user can fix by changing a flag, a config key or a path.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace nca
