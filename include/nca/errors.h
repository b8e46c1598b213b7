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

inline constexpr int kExitRuntime = 1;  // something failed while working
inline constexpr int kExitUsage = 2;    // the user's input is wrong

// Thrown to exit with `code` and no line of its own: a data-parallel rank that stops because
// another rank failed (that rank's line says why).
struct QuietExit {
  int code = kExitRuntime;
};

// Text from the user's input or a file, quoted in a one-line error: control characters become
// '?' (they would garble the line or the terminal), and text longer than `max` is cut.
inline std::string excerpt(const std::string& s, size_t max = 60) {
  std::string out;
  for (char c : s.substr(0, max))
    out += (static_cast<unsigned char>(c) >= 32 && c != 127) ? c : '?';
  return s.size() > max ? out + "..." : out;
}

// excerpt() for a whole message: longer than `max`, it keeps its beginning and its end (where a
// message says why) with "..." between, so that a long path is what gets shortened.
inline std::string excerpt_middle(const std::string& s, size_t max) {
  if (s.size() <= max) return excerpt(s, max);
  const size_t head = (max - 3) / 2, tail = max - 3 - head;
  return excerpt(s.substr(0, head), head) + "..." + excerpt(s.substr(s.size() - tail), tail);
}

// The command that runs this nca, for the commands that messages advise ("next: nca grow ..."):
// "nca" when it was started through PATH (or the PATH's nca is this program), else the path it
// was started by, such as build/nca. set_program_name takes main's argv[0].
// invoked_as() is that argv[0] itself, for processes this one starts.
void set_program_name(const std::string& argv0);
const std::string& program_name();
const std::string& invoked_as();

// A path or name in single quotes, as the one-line errors show it.
inline std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

// A path as a word to paste into a shell (bash, zsh) after a flag: as it is when that is safe,
// else in single quotes, or as $'...' when it holds control characters (a newline stays one
// line, and the word still names the same file); a relative path that starts with '-' gets "./"
// in front, so that it is not read as a flag.
std::string shell_word(const std::string& path);

// The first line of an exception's message: c10::Error's carries a C++ backtrace and
// torch::jit::ErrorReport's starts with a newline; users need the one line that says what.
// Also: without LibTorch's "[enforce fail at FILE:LINE]" prefix, and at most 300 characters.
std::string first_line(const std::exception& e);
std::string first_line(std::string message);

// The one line a command prints when it fails: "nca COMMAND: error: WHAT", at most about
// 400 characters (excerpt_middle).
std::string error_line(const std::string& command, const std::string& what);

// Writes error_line(command, what) to stderr and ends the process at once with `code` (_exit: no
// destructors, no buffered output). Only for a failure that no exception can report: one found
// by a watchdog thread, or by a library thread that would otherwise abort the process.
[[noreturn]] void exit_at_once(const std::string& command, const std::string& what, int code);

}  // namespace nca
