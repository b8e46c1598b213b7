// c10d for nca (docs/design.md §8): the TCPStore rendezvous, a Gloo process group, the collectives
// the trainer's hooks use, and the local launcher behind `nca train --nproc`.
#include "nca/distributed.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL  // a CUDA LibTorch's target defines it
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "nca/errors.h"
#include "nca/torch_compat.h"

namespace nca {
namespace {

// An environment variable as an integer in [lo, hi], exactly as written (no sign, no spaces, no
// trailing text); nullopt when unset.
std::optional<long> env_int(const char* name, long lo, long hi) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  const std::string s = v;
  bool digits = !s.empty() && s.size() <= 9;
  for (char c : s) digits = digits && c >= '0' && c <= '9';
  if (!digits || (s.size() > 1 && s[0] == '0'))
    throw UsageError(std::string(name) + " must be an integer, got '" + excerpt(s) + "'");
  const long n = std::stol(s);
  if (n < lo || n > hi)
    throw UsageError(std::string(name) + " must be in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got " + s);
  return n;
}

bool is_loopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

}  // namespace

std::optional<LaunchEnv> launch_env_from_environment() {
  constexpr long kMaxWorld = 65536;
  const auto world = env_int("WORLD_SIZE", 1, kMaxWorld);
  const auto rank = env_int("RANK", 0, kMaxWorld - 1);
  if (!world && !rank) return std::nullopt;
  if (!world || !rank)
    throw UsageError(std::string(world ? "RANK" : "WORLD_SIZE") + " is not set, but " +
                     (world ? "WORLD_SIZE" : "RANK") +
                     " is: a launcher sets both (and MASTER_ADDR, MASTER_PORT)");
  LaunchEnv env;
  env.world_size = static_cast<int>(*world);
  env.rank = static_cast<int>(*rank);
  if (env.rank >= env.world_size)
    throw UsageError("RANK " + std::to_string(env.rank) + " is not below WORLD_SIZE " +
                     std::to_string(env.world_size));
  env.local_rank = static_cast<int>(env_int("LOCAL_RANK", 0, kMaxWorld - 1).value_or(0));
  const char* addr = std::getenv("MASTER_ADDR");
  if (!addr || !*addr) throw UsageError("MASTER_ADDR is not set (rank 0's host name or address)");
  env.master_addr = addr;
  const auto port = env_int("MASTER_PORT", 1, 65535);
  if (!port) throw UsageError("MASTER_PORT is not set (rank 0's rendezvous port)");
  env.master_port = static_cast<int>(*port);
  return env;
}

namespace {

// What the terminate handler below says, around the exception's own words: set while a
// RendezvousWatch is active.
struct ProtocolLine {
  std::string head, tail;
};
std::atomic<const ProtocolLine*> g_protocol_line{nullptr};

// A c10d thread that throws ends the process through std::terminate: during the rendezvous that
// is LibTorch 1.13's callback client reading bytes of another program (a length it then tries to
// allocate), which would be std::length_error and SIGABRT. Said in one line instead.
[[noreturn]] void on_rendezvous_terminate() {
  std::string why = "a c10d thread failed";
  if (const std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      why = first_line(x);
    } catch (...) {
    }
  }
  const ProtocolLine* line = g_protocol_line.load();
  exit_at_once("train",
               line ? line->head + " (" + why + ")" + line->tail : "the rendezvous failed: " + why,
               kExitRuntime);
}

// c10d's calls cannot be interrupted, and not every wait in them has a limit: LibTorch 1.13's
// TCPStore client waits for the answer to its first request without one, so a program on
// MASTER_PORT that accepts connections and never answers (a silent listener, an HTTP server
// waiting for a line that never comes) would hold a rank forever, whatever --dist-timeout says.
// The rendezvous runs under this watch: each phase has `timeout` and a few seconds (c10d's own
// limits, which say more, come first), after which the process ends with exit 1 and one line;
// so does a c10d thread that throws meanwhile. Nothing is written before the rendezvous ends, so
// nothing is lost by ending the process there.
class RendezvousWatch {
 public:
  // `protocol_line`: what a c10d thread's exception is said within (head, why, tail).
  RendezvousWatch(ProtocolLine protocol_line, std::chrono::milliseconds timeout)
      : limit_(timeout + kGrace), protocol_line_(std::move(protocol_line)) {
    g_protocol_line = &protocol_line_;
    previous_ = std::set_terminate(on_rendezvous_terminate);
    thread_ = std::thread([this] { watch(); });
  }
  ~RendezvousWatch() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    thread_.join();
    std::set_terminate(previous_);
    g_protocol_line = nullptr;
  }
  RendezvousWatch(const RendezvousWatch&) = delete;
  RendezvousWatch& operator=(const RendezvousWatch&) = delete;

  // Starts a phase: `hang` is the line said when it does not end in time.
  void phase(std::string hang) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      hang_ = std::move(hang);
      deadline_ = std::chrono::steady_clock::now() + limit_;
    }
    wake_.notify_all();
  }

 private:
  static constexpr std::chrono::seconds kGrace{3};

  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!done_) {
      if (hang_.empty()) {
        wake_.wait(lock);
      } else if (wake_.wait_until(lock, deadline_) == std::cv_status::timeout && !done_ &&
                 std::chrono::steady_clock::now() >= deadline_) {
        exit_at_once("train", hang_, kExitRuntime);
      }
    }
  }

  std::chrono::milliseconds limit_;
  ProtocolLine protocol_line_;
  std::terminate_handler previous_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::string hang_;  // "": no phase yet
  std::chrono::steady_clock::time_point deadline_;
  bool done_ = false;
  std::thread thread_;
};

// Bytes of another program read as c10d's protocol end in a length too large to allocate, a
// number that is not one, or an answer c10d did not expect: said as such.
std::string protocol_hint(const std::exception& e, const std::string& other_program) {
  const std::string what = e.what();
  const bool garbled = dynamic_cast<const std::logic_error*>(&e) != nullptr ||
                       dynamic_cast<const std::bad_alloc*>(&e) != nullptr ||
                       what.find("expected") != std::string::npos ||
                       what.find("nonce") != std::string::npos;
  return garbled ? ": what answers there does not speak the rendezvous protocol; " + other_program
                 : "";
}

// Whether another program holds `port`: rank 0's store binds it on every address, and one that is
// taken fails deep in c10d, after log lines of its own.
bool port_taken(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as c10d binds it
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool taken =
      ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno == EADDRINUSE;
  ::close(fd);
  return taken;
}

// "within 30 s" when a wait that began at `start` took most of its `timeout` (c10d counts some of
// it from earlier), else "after 0.2 s": a peer that closed its connection fails at once, and the
// line says so.
std::string waited(std::chrono::steady_clock::time_point start, std::chrono::milliseconds timeout) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double limit = static_cast<double>(timeout.count()) / 1000;
  if (seconds >= 0.5 * limit) return fmt::format("within {:g} s", limit);
  return fmt::format("after {:.1f} s", seconds);
}

}  // namespace

struct ProcessGroup::Impl {
  // First, so that it is the last to go: a failed rendezvous stops c10d's threads under it.
  std::unique_ptr<RendezvousWatch> watch;
  LaunchEnv env;
  std::chrono::milliseconds timeout;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;  // flags and losses; tensors without NCCL
#ifdef USE_C10D_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;  // CUDA tensors, when asked for
#endif

  // Waits for `work`; a peer that died or stopped answering becomes one line.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) const {
    const auto start = std::chrono::steady_clock::now();
    try {
      work->wait(timeout);
    } catch (const std::exception& e) {
      const std::string lost =
          env.world_size == 2 ? "rank " + std::to_string(1 - env.rank) : "another rank";
      const std::string when = waited(start, timeout);
      throw std::runtime_error(fmt::format(
          "distributed {} failed on rank {}: {} was lost {}{} ({})", what, env.rank, lost,
          when.rfind("within", 0) == 0 ? "or did not answer " : "", when, first_line(e)));
    }
  }

  // The TCPStore (rank 0 serves it) and the Gloo group, each a phase of `watch`.
  void join_store(const std::string& who, const std::string& where,
                  const std::string& other_program);
  void join_gloo(const std::string& who, const std::string& where,
                 const std::string& other_program);
};

bool ProcessGroup::nccl_available() {
#ifdef USE_C10D_NCCL
  return true;
#else
  return false;
#endif
}

namespace {

// What a rank asks of file descriptors: LibTorch and the program, then sockets to each other rank.
// Measured under --nproc W with a tiny run: W = 2, 4, 8 needed 24, 32 and 48 (16 + 4 W); twice that
// leaves room for what a larger run opens.
constexpr rlim_t kOpenFilesBase = 64, kOpenFilesPerRank = 8;

// Gloo keeps sockets to every other rank and LibTorch's store more: under a low open-file limit
// (ulimit -n) they run out in a background thread, which aborts the process. The soft limit is
// raised to what is needed where the hard limit allows; below that, refused with one line.
void ensure_open_files(int world_size) {
  const rlim_t need = kOpenFilesBase + kOpenFilesPerRank * static_cast<rlim_t>(world_size);
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= need) return;
  if (lim.rlim_max == RLIM_INFINITY || lim.rlim_max >= need) {
    lim.rlim_cur = need;
    if (::setrlimit(RLIMIT_NOFILE, &lim) == 0) return;
  }
  throw UsageError(fmt::format(
      "the open-file limit is {} (ulimit -n): a data-parallel run of {} processes needs {}; "
      "raise it with ulimit -n {}",
      lim.rlim_cur, world_size, need, need));
}

}  // namespace

ProcessGroup::ProcessGroup(const LaunchEnv& env, std::chrono::milliseconds timeout, bool nccl)
    : impl_(std::make_unique<Impl>()) {
  if (nccl && !nccl_available())
    throw std::runtime_error(
        "this nca was built without NCCL (it needs a CUDA LibTorch): use "
        "--dist-backend gloo");
  impl_->env = env;
  impl_->timeout = timeout;
  ensure_open_files(env.world_size);
  // A name that does not resolve would only end in "socket timed out": said as it is, at once.
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int err = ::getaddrinfo(env.master_addr.c_str(), nullptr, &hints, &found); err != 0)
    throw UsageError("MASTER_ADDR '" + excerpt(env.master_addr) +
                     "' is not an address this machine can find (" + ::gai_strerror(err) +
                     "): set it to rank 0's host name or IP address");
  ::freeaddrinfo(found);
  const std::string who = fmt::format("rank {} of {}", env.rank, env.world_size);
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  // Rank 0 serves the store itself: only the others can be waiting on a rank 0 that stopped.
  const std::string other_program = "is another program listening on MASTER_PORT " +
                                    std::to_string(env.master_port) +
                                    (env.rank == 0 ? "?" : " (or has rank 0 stopped)?");
  // Declared before the store, so that on a failure below it still watches while c10d's
  // threads are stopped.
  impl_->watch = std::make_unique<RendezvousWatch>(
      ProtocolLine{fmt::format("{}: what answers at {} does not speak the rendezvous protocol of "
                               "rank 0's store",
                               who, where),
                   ": " + other_program},
      timeout);
  impl_->join_store(who, where, other_program);
  impl_->join_gloo(who, where, other_program);
  impl_->watch.reset();
#ifdef USE_C10D_NCCL
  if (nccl) {
    auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
    nccl_options->timeout = timeout;
    try {
      impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          c10::make_intrusive<c10d::PrefixStore>("nccl", impl_->store), env.rank, env.world_size,
          nccl_options);
    } catch (const std::exception& e) {
      throw std::runtime_error("rank " + std::to_string(env.rank) + ": cannot start NCCL (" +
                               first_line(e) + "); --dist-backend gloo works without it");
    }
  }
#endif
}

void ProcessGroup::Impl::join_store(const std::string& who, const std::string& where,
                                    const std::string& other_program) {
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<uint16_t>(env.master_port);
  opts.isServer = env.rank == 0;
  opts.numWorkers = static_cast<size_t>(env.world_size);
  opts.waitWorkers = true;
  opts.timeout = timeout;
  tcp_store_without_libuv(opts);
  const std::string seconds = fmt::format("{:g} s", static_cast<double>(timeout.count()) / 1000);
  watch->phase(
      env.rank == 0
          ? fmt::format("{}: the other processes did not all join the rendezvous at {} within {}",
                        who, where, seconds)
          : fmt::format("{}: what listens at {} took the connection but did not answer as rank "
                        "0's rendezvous store within {}: {}",
                        who, where, seconds, other_program));
  if (env.rank == 0 && port_taken(env.master_port))
    throw std::runtime_error(
        fmt::format("{}: cannot serve the rendezvous at {}: the port is in use: {}", who, where,
                    other_program));
  const auto start = std::chrono::steady_clock::now();
  try {
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, opts);
  } catch (const std::exception& e) {
    if (env.rank == 0)
      throw std::runtime_error(fmt::format("{}: cannot serve the rendezvous at {} ({}): {}", who,
                                           where, first_line(e), other_program));
    throw std::runtime_error(fmt::format("{}: no rendezvous at {} {} ({}){}", who, where,
                                         waited(start, timeout), first_line(e),
                                         protocol_hint(e, other_program)));
  }
}

void ProcessGroup::Impl::join_gloo(const std::string& who, const std::string& where,
                                   const std::string& other_program) {
  watch->phase(fmt::format(
      "{}: the process group at {} did not form within {:g} s: a process did not answer; {}", who,
      where, static_cast<double>(timeout.count()) / 1000, other_program));
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  // Local runs stay on the loopback interface; elsewhere Gloo binds to this host's address.
  options->devices.push_back(is_loopback(env.master_addr)
                                 ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                 : c10d::ProcessGroupGloo::createDefaultDevice());
  const auto start = std::chrono::steady_clock::now();
  try {
    group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, options);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: cannot join the process group at {} {} ({}){}", who,
                                         where, waited(start, timeout), first_line(e),
                                         protocol_hint(e, other_program)));
  }
}

bool ProcessGroup::uses_nccl() const {
#ifdef USE_C10D_NCCL
  return static_cast<bool>(impl_->nccl);
#else
  return false;
#endif
}

ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const { return impl_->env.rank; }
int ProcessGroup::world_size() const { return impl_->env.world_size; }

namespace {

// One contiguous float buffer on `device` holding `tensors` (one collective for them all).
at::Tensor flatten(const std::vector<at::Tensor>& tensors, const c10::Device& device) {
  std::vector<at::Tensor> flat;
  for (const auto& t : tensors) flat.push_back(t.detach().reshape({-1}).to(device, torch::kFloat));
  return torch::cat(flat);
}

void unflatten_into(const at::Tensor& buffer, const std::vector<at::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (const auto& t : tensors) {
    const int64_t n = t.numel();
    t.copy_(buffer.slice(0, offset, offset + n).view(t.sizes()));
    offset += n;
  }
}

// Gloo works on CPU tensors (a CUDA tensor's values are copied over and back); NCCL on the
// GPU's own.
c10::Device buffer_device(const std::vector<at::Tensor>& tensors, bool nccl) {
  return nccl && !tensors.empty() ? tensors[0].device() : c10::Device(c10::kCPU);
}

}  // namespace

void ProcessGroup::broadcast(const std::vector<at::Tensor>& tensors, int root) {
  std::vector<at::Tensor> buffer{flatten(tensors, buffer_device(tensors, uses_nccl()))};
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  opts.timeout = impl_->timeout;
#ifdef USE_C10D_NCCL
  if (impl_->nccl) {
    impl_->wait(impl_->nccl->broadcast(buffer, opts), "broadcast");
    return unflatten_into(buffer[0], tensors);
  }
#endif
  impl_->wait(impl_->group->broadcast(buffer, opts), "broadcast");
  unflatten_into(buffer[0], tensors);
}

void ProcessGroup::average(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> buffer{flatten(tensors, buffer_device(tensors, uses_nccl()))};
  c10d::AllreduceOptions opts;
  opts.timeout = impl_->timeout;
#ifdef USE_C10D_NCCL
  if (impl_->nccl) {
    impl_->wait(impl_->nccl->allreduce(buffer, opts), "all-reduce");
    buffer[0].div_(impl_->env.world_size);
    return unflatten_into(buffer[0], tensors);
  }
#endif
  impl_->wait(impl_->group->allreduce(buffer, opts), "all-reduce");
  buffer[0].div_(impl_->env.world_size);
  unflatten_into(buffer[0], tensors);
}

IterationHooks::Agreement ProcessGroup::agree(bool ok, bool stop) {
  // The minimum of (ok, not stop) over the ranks.
  std::vector<at::Tensor> flag{torch::tensor({ok ? 1 : 0, stop ? 0 : 1}, torch::kInt)};
  c10d::AllreduceOptions opts;
  opts.reduceOp = c10d::ReduceOp::MIN;
  opts.timeout = impl_->timeout;
  impl_->wait(impl_->group->allreduce(flag, opts), "agreement");
  IterationHooks::Agreement a;
  a.all_ok = flag[0][0].item<int>() == 1;
  a.any_stop = flag[0][1].item<int>() == 0;
  return a;
}

int ProcessGroup::max(int value) {
  std::vector<at::Tensor> v{torch::tensor({value}, torch::kInt)};
  c10d::AllreduceOptions opts;
  opts.reduceOp = c10d::ReduceOp::MAX;
  opts.timeout = impl_->timeout;
  impl_->wait(impl_->group->allreduce(v, opts), "agreement");
  return v[0][0].item<int>();
}

std::string ProcessGroup::broadcast_text(const std::string& text, int root) {
  const int longest = max(static_cast<int>(text.size()));
  std::vector<at::Tensor> v{torch::zeros({longest}, torch::kUInt8)};
  std::copy(text.begin(), text.end(), static_cast<char*>(v[0].data_ptr()));
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  opts.timeout = impl_->timeout;
  impl_->wait(impl_->group->broadcast(v, opts), "broadcast");
  const char* bytes = static_cast<const char*>(v[0].data_ptr());
  return std::string(bytes, std::find(bytes, bytes + longest, '\0'));
}

double ProcessGroup::sum(double value) {
  std::vector<at::Tensor> v{torch::full({1}, value, torch::kDouble)};
  c10d::AllreduceOptions opts;
  opts.timeout = impl_->timeout;
  impl_->wait(impl_->group->allreduce(v, opts), "all-reduce");
  return v[0].item<double>();
}

TrainConfig shard_config(const TrainConfig& global, int rank, int world_size) {
  TrainConfig c = global;
  if (world_size == 1) return c;
  if (global.batch % world_size != 0)
    throw UsageError("batch " + std::to_string(global.batch) + " does not split evenly over " +
                     std::to_string(world_size) + " processes (batch is the global batch)");
  c.batch = global.batch / world_size;
  if (global.uses_pool()) {
    if (global.pool % world_size != 0)
      throw UsageError("pool " + std::to_string(global.pool) + " does not split evenly over " +
                       std::to_string(world_size) + " processes (pool is the global pool)");
    c.pool = global.pool / world_size;
  }
  const auto share = [&](int total, int r) {
    return static_cast<int>((static_cast<int64_t>(r + 1) * total) / world_size -
                            (static_cast<int64_t>(r) * total) / world_size);
  };
  c.damage = share(global.damage, rank);
  c.rank = rank;
  c.world_size = world_size;
  // The last rank has the largest share; each rank reseeds one sample of its own.
  const int most = share(global.damage, world_size - 1);
  if (global.experiment == Experiment::Regenerating && global.damage >= 0 && most >= c.batch)
    throw UsageError("damage " + std::to_string(global.damage) + " over " +
                     std::to_string(world_size) + " processes damages " + std::to_string(most) +
                     " of a process's " + std::to_string(c.batch) +
                     " samples, leaving none to reseed: use a larger batch or less damage");
  // splitmix64 of (seed, rank): streams that share nothing; rank 0 keeps the seed.
  uint64_t z = global.seed + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(rank);
  if (rank != 0) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
  }
  c.seed = z;
  return c;
}

// ---- the local launcher ----

namespace {

volatile sig_atomic_t g_forward_signal = 0;
extern "C" void remember_signal(int sig) { g_forward_signal = sig; }

// A port the kernel reports free on 127.0.0.1 (closed again at once: rank 0's store binds it
// a moment later; another program taking it in between fails the rendezvous with one line).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    throw std::runtime_error(std::string("cannot open a socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("cannot find a free port on 127.0.0.1: " + why);
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

int exit_status(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return 1;
}

}  // namespace

// How long the launcher waits for the ranks it asked to stop (they save first) before it ends
// them.
constexpr std::chrono::seconds kStopGrace{120};

int launch_local(int nproc, const std::vector<std::string>& args) {
  ensure_open_files(nproc);  // refused once here rather than by every rank
  const int port = free_port();
  // Signals arrive here (a terminal's Ctrl-C goes to the whole group anyway; kill from
  // elsewhere only to this process) and are passed on, so every rank saves.
  struct sigaction sa {};
  sa.sa_handler = remember_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);

  std::vector<pid_t> children;
  const pid_t launcher = ::getpid();
  for (int r = 0; r < nproc; ++r) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (pid_t c : children) ::kill(c, SIGTERM);
      throw std::runtime_error(std::string("cannot start rank ") + std::to_string(r) + ": " +
                               std::strerror(errno));
    }
    if (pid == 0) {
      // A rank outlives no launcher: when it goes (kill -9 included), the rank is asked to stop
      // as by Ctrl-C, and saves.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != launcher) ::_exit(1);  // it went before that took hold
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "nca: error: cannot start rank %d: %s\n", r, std::strerror(errno));
      ::_exit(1);
    }
    children.push_back(pid);
  }

  // The first failure's status: the ranks it makes the launcher stop do not count.
  int first_failure = 0;
  bool stopping = false, killed = false;
  std::chrono::steady_clock::time_point stop_asked;
  size_t running = children.size();
  // Polled rather than blocking in waitpid, so that a signal is passed on at once whenever it
  // comes.
  while (running > 0) {
    if (const int sig = g_forward_signal) {
      g_forward_signal = 0;
      for (pid_t c : children)
        if (c > 0) ::kill(c, sig);
    }
    int wstatus = 0;
    const pid_t pid = ::waitpid(-1, &wstatus, WNOHANG);
    if (pid == 0 || (pid < 0 && errno == EINTR)) {
      // A rank that has not stopped long after it was asked to (one stopped with SIGSTOP and
      // continued into a hang, say) is ended, so that the launcher never waits forever.
      if (stopping && !killed && std::chrono::steady_clock::now() - stop_asked > kStopGrace) {
        killed = true;
        for (pid_t c : children)
          if (c > 0) ::kill(c, SIGKILL);
      }
      ::usleep(20000);
      continue;
    }
    if (pid < 0) break;
    for (auto& c : children)
      if (c == pid) c = -1;
    --running;
    const int status = exit_status(wstatus);
    if (status != 0 && !stopping) {
      first_failure = status;
      // One rank failed: the others would only wait for it until their timeout. SIGCONT wakes a
      // rank stopped with SIGSTOP, so that it hears the request.
      stopping = true;
      stop_asked = std::chrono::steady_clock::now();
      for (pid_t c : children) {
        if (c <= 0) continue;
        ::kill(c, SIGTERM);
        ::kill(c, SIGCONT);
      }
    }
  }
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, SIG_DFL);
  return first_failure;
}

}  // namespace nca
