// Shared command-line plumbing: exit codes, error wording, device, threads, logging, progress.
#include "common.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <thread>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <torch/torch.h>
#include <unistd.h>

#include "nca/atomic_file.h"
#include "nca/config.h"
#include "nca/device.h"
#include "nca/errors.h"
#include "nca/limits.h"

namespace nca::cli {
namespace {

// What follows `prefix` in `msg` up to `stop` (to the end when stop is empty), if msg has it.
bool between(const std::string& msg, const std::string& prefix, const std::string& stop,
             std::string& out) {
  const size_t at = msg.find(prefix);
  if (at == std::string::npos) return false;
  const size_t from = at + prefix.size();
  const size_t to = stop.empty() ? std::string::npos : msg.find(stop, from);
  out = msg.substr(from, to == std::string::npos ? std::string::npos : to - from);
  return true;
}

// CLI11 2.1 words its errors for programmers; say what the user should change instead. Plain
// string searches rather than std::regex: the message holds user input of any length, and
// libstdc++'s regex recurses once per character (a 100 KB config value overflowed the stack).
std::string reword(const CLI::ParseError& e) {
  const std::string msg = e.what();
  std::string a, b;
  if (between(msg, "INI was not able to parse ", ".", a))
    return "config file has an unknown key '" + excerpt(a) +
           "' (keys are the long flag names without dashes in front, e.g. min-steps = 64; see "
           "--help)";
  if (between(msg, "Could not convert: ", " = ", a) && between(msg, a + " = ", "", b))
    return "invalid value '" + excerpt(b) + "' for " + excerpt(a) + " (see --help for its type)";
  if (const size_t at = msg.rfind(": This option is not allowed in a configuration file");
      at != std::string::npos)
    return "config file key '" + excerpt(msg.substr(0, at)) +
           "' is a command-line flag only: give --" + excerpt(msg.substr(0, at)) +
           " on the command line";
  if (const size_t at = msg.rfind(" was not readable (missing?)"); at != std::string::npos)
    return "cannot read config file '" + excerpt(msg.substr(0, at)) + "': missing or unreadable";
  if (between(msg, " not expected: ", "", a) && msg.rfind("The following argument", 0) == 0) {
    // CLI11 lists the leftovers last-first.
    std::istringstream words(a);
    std::vector<std::string> left{std::istream_iterator<std::string>(words), {}};
    std::string joined;
    for (auto it = left.rbegin(); it != left.rend(); ++it)
      joined += (joined.empty() ? "" : " ") + *it;
    return "unknown argument '" + excerpt(joined) + "' (see --help)";
  }
  if (between(msg, ": At Most 1 required but received ", "", b) && between(msg, "", ": At Most", a))
    return excerpt(a) + " takes one value, got " + excerpt(b);
  return excerpt(msg, 300);
}

// LibTorch's allocator words a failed allocation for its own developers: "[enforce fail at
// alloc_cpu.cpp:75] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to allocate
// 4294967296 bytes. Error code 12 (Cannot allocate memory)". Said as std::bad_alloc is, with the
// size; nothing for any other error.
std::optional<std::string> out_of_memory(const std::string& msg) {
  if (msg.find("can't allocate memory") == std::string::npos) return std::nullopt;
  std::string bytes;
  std::string size;
  if (between(msg, "you tried to allocate ", " bytes", bytes) && !bytes.empty() &&
      bytes.size() < 20 && bytes.find_first_not_of("0123456789") == std::string::npos)
    size = limits::format_bytes(std::stod(bytes)) + " at once; ";
  return "out of memory (" + size + "a smaller pool, batch, size or grid needs less)";
}

}  // namespace

std::string help::model(const std::string& default_name) {
  return "Model file or run directory (default: the shipped data/models/" + default_name + ")";
}

int guarded(const std::string& command, const std::function<int()>& body) {
  auto fail = [&](const std::string& what, int code) {
    std::fflush(stdout);
    std::cerr << error_line(command, what) << std::flush;
    return code;
  };
  try {
    return body();
  } catch (const QuietExit& q) {
    return q.code;
  } catch (const UsageError& e) {
    return fail(e.what(), kExitUsage);
  } catch (const c10::Error& e) {
    return fail(out_of_memory(e.what_without_backtrace()).value_or(first_line(e)), kExitRuntime);
  } catch (const std::bad_alloc&) {
    return fail("out of memory (a smaller pool, batch, size or grid needs less)", kExitRuntime);
  } catch (const std::exception& e) {  // also LibTorch's allocator's words, passed on
    return fail(out_of_memory(e.what()).value_or(e.what()), kExitRuntime);
  }
}

bool parse(CLI::App& app, int argc, char** argv) {
  // CLI11 reads a --config file itself, whatever it is: a FIFO would block it, /dev/zero never
  // ends. Checked first, like every other input.
  if (app.get_option_no_throw("--config")) {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--config" && i + 1 < argc) check_config_file(app, argv[i + 1]);
      if (a.rfind("--config=", 0) == 0) check_config_file(app, a.substr(9));
    }
  }
  make_numbers_exact(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return false;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return false;
  } catch (const CLI::ParseError& e) {
    throw UsageError(reword(e));
  }
  return true;
}

c10::Device select_device(const std::string& name, int default_index) {
  if (name == "auto") {
    if (!torch::cuda::is_available()) {
      spdlog::info("device auto: this LibTorch sees no CUDA GPU, so nca runs on the CPU");
      return c10::kCPU;
    }
    const int n = static_cast<int>(torch::cuda::device_count());
    const int index = default_index < n ? default_index : default_index % n;
    spdlog::info("device auto: {} CUDA GPU(s) visible, so cuda:{}", n, index);
    const c10::Device device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
    use_device(device);
    return device;
  }
  if (name == "cpu") return c10::kCPU;
  if (name.rfind("cuda", 0) != 0)
    throw UsageError("unknown device '" + name + "': choose auto, cpu, cuda or cuda:K");
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(name);
  } catch (const c10::Error&) {
    throw UsageError("unknown device '" + name + "': choose auto, cpu, cuda or cuda:K");
  }
  if (!torch::cuda::is_available())
    throw UsageError("--device " + name +
                     ": this LibTorch has no CUDA or sees no GPU; use --device cpu "
                     "(or auto), or build against a CUDA LibTorch (see docs/building.md)");
  if (device.has_index() && device.index() >= static_cast<int>(torch::cuda::device_count()))
    throw UsageError("--device " + name + ": only " + std::to_string(torch::cuda::device_count()) +
                     " CUDA device(s)");
  // cuda means cuda:0 (a data-parallel rank's: cuda:LOCAL_RANK), and the logs say so
  if (!device.has_index()) {
    const int n = static_cast<int>(torch::cuda::device_count());
    device.set_index(static_cast<c10::DeviceIndex>(default_index % n));
  }
  use_device(device);
  return device;
}

int set_threads(int threads) {
  limits::check_threads("--threads", threads);
  const int n = threads > 0 ? threads : limits::cores();
  torch::set_num_threads(n);
  return n;
}

namespace {

// A log line's message with its control characters shown as '?', as error lines show them: a
// path holding a newline must not split a line in two, nor an escape move the terminal's cursor.
class PrintableMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    for (const char c : msg.payload) {
      const auto u = static_cast<unsigned char>(c);
      dest.push_back(u < 32 || u == 127 ? '?' : c);
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PrintableMessage>();
  }
};

}  // namespace

void setup_logging() {
  // Logs and progress go to stderr; stdout carries only results.
  auto logger = spdlog::stderr_color_mt("nca");
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<PrintableMessage>('*').set_pattern("[%H:%M:%S] %^%l%$ %*");
  logger->set_formatter(std::move(formatter));
  spdlog::set_default_logger(logger);
}

int terminal_width() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS"); c && *c) {
    char* end = nullptr;
    const long n = std::strtol(c, &end, 10);
    if (*end == '\0' && n > 0 && n < 10000) return static_cast<int>(n);
  }
  return 80;
}

Progress::Progress(int64_t first, int64_t total, int log_every, double floor_seconds)
    : first_(first),
      total_(total),
      done_(first),
      log_every_(log_every),
      tty_(::isatty(STDERR_FILENO) != 0),
      eta_(floor_seconds),
      start_(std::chrono::steady_clock::now()) {}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(int64_t done, double loss, double log10_loss, double seconds_per_iter) {
  done_ = done;
  eta_.add(seconds_per_iter);
  if (std::isfinite(log10_loss)) recent_.add(log10_loss);
  const double spi = eta_.seconds_per_iteration();
  const double eta = eta_.eta(total_ - done);
  if (!tty_) {
    if (done % log_every_ == 0 || done == total_)
      spdlog::info("iter {}/{} ({}%) loss {:.6f} log10 {:.3f} elapsed {} {:.2f} it/s eta {}", done,
                   total_, done * 100 / std::max<int64_t>(total_, 1), loss, log10_loss,
                   format_duration(elapsed()), spi > 0 ? 1.0 / spi : 0.0, format_duration(eta));
    return;
  }
  // Redraw at most ~10 times a second: a terminal is slow to scroll at thousands of it/s.
  const auto now = std::chrono::steady_clock::now();
  if (done != total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  ProgressLine p;
  p.done = done;
  p.total = total_;
  p.elapsed = elapsed();
  p.eta = eta;
  p.rate = spi > 0 ? 1.0 / spi : 0.0;
  p.loss = loss;
  p.log10_loss = log10_loss;
  const std::string line = format_progress_line(p, terminal_width());
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::interrupt() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

void Progress::finish() {
  if (drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
  std::fflush(stderr);
}

}  // namespace nca::cli
