// nca: the command-line entry point. Parses nothing itself: it dispatches to a subcommand.
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "commands.h"
#include "common.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int, char**);
};

constexpr Command kCommands[] = {
    {"train", "train a model to grow a target image; writes a run directory", nca::cli::run_train},
    {"grow", "grow a trained model from a seed: PNG frames and a GIF", nca::cli::run_grow},
    {"regen", "grow, cut, watch it heal; prints how much came back", nca::cli::run_regen},
    {"bench", "measure training and growing speed and peak memory", nca::cli::run_bench},
    {"export", "export a model as an interactive web page or as TorchScript for Python",
     nca::cli::run_export},
};

void usage(std::ostream& out) {
  out << "nca: Growing Neural Cellular Automata (Mordvintsev et al., Distill 2020)\n\n"
         "usage: nca <command> [options]    (nca <command> --help for its options)\n\n"
         "commands:\n";
  for (const auto& c : kCommands)
    out << "  " << c.name << std::string(8 - std::strlen(c.name), ' ') << c.summary << "\n";
  out << "\nexample: nca train --target data/lizard.png --config configs/quick.toml\n";
}

// The main thread's stack is sized from the stack limit when the program starts, and so is each
// thread LibTorch starts (glibc's default for new threads): under `ulimit -s 128` training
// overflowed it and died of SIGSEGV (measured: 160 KB was enough for train, bench and the rest).
// Below kStackNeed, the soft limit is raised to Linux's usual 8 MB where the hard limit allows
// and the program starts again with it (same pid, same arguments); else one line, exit 2.
constexpr rlim_t kStackNeed = rlim_t{512} << 10, kStackUsual = rlim_t{8} << 20;
void ensure_stack(char** argv) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_STACK, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY ||
      lim.rlim_cur >= kStackNeed)
    return;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < kStackNeed) {
    std::cerr << "nca: error: the stack size limit is " << (lim.rlim_cur >> 10)
              << " KB (ulimit -s), below the " << (kStackNeed >> 10)
              << " KB nca needs: raise it, e.g. ulimit -s " << (kStackUsual >> 10)
              << " (Linux's default)\n";
    std::exit(nca::cli::kExitUsage);
  }
  lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? kStackUsual : std::min(kStackUsual, lim.rlim_max);
  if (::setrlimit(RLIMIT_STACK, &lim) == 0) ::execv("/proc/self/exe", argv);
  // Not started again: it goes on as it is.
}

// The process environment a command can count on, whatever started it.
void settle_process() {
  // A closed stdout or stderr (">&-") would hand its number to the next file opened, and log
  // lines would land in a model or a lock file: park /dev/null there instead.
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      const int null = ::open("/dev/null", O_RDWR);
      if (null >= 0 && null != fd) {
        ::dup2(null, fd);
        ::close(null);
      }
    }
  }
  // A reader that went away (| head, a tee killed by Ctrl-C) makes writes to stdout fail with
  // EPIPE, which logging ignores; by default it would kill the process before it saves.
  std::signal(SIGPIPE, SIG_IGN);
  // A file-size limit (ulimit -f) would kill the process in the middle of a save, leaving a
  // temporary file and no model; ignored, the write fails with EFBIG and the save's own error
  // path reports it and keeps the previous file. Processes that --nproc starts inherit this.
  std::signal(SIGXFSZ, SIG_IGN);
}

// The results a command printed must have reached standard output: a full disk or /dev/full
// there is an error (exit 1, one line), not a silent exit 0. A reader that went away (| head)
// is not: it asked for no more.
int check_stdout(const std::string& command, int code) {
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  const int err = errno;
  if ((flushed && !std::ferror(stdout)) || err == EPIPE) return code;
  std::cerr << "nca " << command << ": error: cannot write the results to standard output"
            << (err != 0 ? std::string(": ") + std::strerror(err) : std::string()) << "\n";
  return code == 0 ? nca::cli::kExitRuntime : code;
}

}  // namespace

int main(int argc, char** argv) {
  ensure_stack(argv);
  settle_process();
  if (argc > 0) nca::set_program_name(argv[0]);
  if (argc < 2) {
    usage(std::cerr);
    return nca::cli::kExitUsage;
  }
  const std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    usage(std::cout);
    return 0;
  }
  if (name == "--version") {
    std::cout << "nca " << NCA_VERSION << "\n";
    return 0;
  }
  for (const auto& c : kCommands) {
    if (name == c.name) {
      nca::cli::setup_logging();
      return check_stdout(name, c.run(argc - 1, argv + 1));
    }
  }
  std::cerr << "nca: error: unknown command '" << name << "' (see nca --help)\n";
  return nca::cli::kExitUsage;
}
