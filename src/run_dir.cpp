// RunDir: the run directory's checks, layout, loss log, pictures and checkpoints.
#include "nca/run_dir.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "nca/atomic_file.h"
#include "nca/checkpoint.h"
#include "nca/errors.h"
#include "nca/image_io.h"
#include "nca/plot.h"
#include "nca/rollout.h"
#include "nca/trainer.h"

namespace nca {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCsvHeader = "iter,loss,log10_loss,steps,lr,seconds\n";
// Held (flock) by the one process that writes the run; it holds that process's pid.
constexpr const char* kLockName = ".nca.lock";

// The files nca writes at the top of a run directory (besides the lock and subfolders).
bool is_top_file(const std::string& name) {
  for (const char* f : {"config.toml", "model.pt", "pool.pt", "pool.next.pt", "loss.csv",
                        "loss.png", "batch.png", "target.png", "growth.gif"})
    if (name == f) return true;
  return false;
}

// PREFIX, one or more digits, SUFFIX: checkpoints/model_000100.pt, pool/pool_000100.png.
bool is_numbered(const std::string& name, const std::string& prefix, const std::string& suffix) {
  if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  const std::string digits =
      name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  return digits.find_first_not_of("0123456789") == std::string::npos;
}

// rank<R>_<digits>.pt or pool<R>_<digits>.pt in ranks/ (R: digits); the rank and the iteration.
bool parse_rank_file(const std::string& name, int* rank = nullptr, int64_t* iteration = nullptr,
                     bool* pool = nullptr) {
  for (const std::string prefix : {"rank", "pool"}) {
    const auto sep = name.find('_');
    if (sep == std::string::npos || name.rfind(prefix, 0) != 0) continue;
    const std::string r = name.substr(prefix.size(), sep - prefix.size());
    if (r.empty() || r.size() > 6 || r.find_first_not_of("0123456789") != std::string::npos ||
        !is_numbered(name.substr(sep), "_", ".pt") || name.size() - sep > 20)
      return false;
    if (rank) *rank = std::stoi(r);
    if (iteration) *iteration = std::stoll(name.substr(sep + 1, name.size() - sep - 4));
    if (pool) *pool = prefix == "pool";
    return true;
  }
  return false;
}

// Why `file` cannot be removed, or "" when nothing that can be seen beforehand is in the way: its
// folder not writable (permissions, a read-only file system), or the file or its folder immutable
// or append-only (chattr +i, +a), which root cannot get past either.
std::string why_not_removable(const fs::path& file) {
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  if (::access(dir.c_str(), W_OK | X_OK) != 0) return std::strerror(errno);
  std::error_code ec;
  for (const fs::path& p : {dir, file}) {
    // Only folders and regular files are opened: a device's open could do something.
    const auto type = fs::symlink_status(p, ec).type();
    if (type != fs::file_type::directory && type != fs::file_type::regular) continue;
    const int fd = ::open(p.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    int flags = 0;
    const bool known = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
    ::close(fd);
    if (known && (flags & (FS_IMMUTABLE_FL | FS_APPEND_FL)) != 0)
      return std::string(p == file ? "it" : "its folder") +
             " is immutable or append-only (lsattr shows it; chattr -i -a undoes it)";
  }
  return "";
}

// Whether `name` (or the file a temporary named `name` stands for) passes `ours`.
template <class Pred>
bool written_by_nca(const std::string& name, Pred ours) {
  std::string target;
  return ours(name) || (is_temporary_name(name, &target) && ours(target));
}

}  // namespace

std::string RunDir::default_path(const std::string& target, const std::string& experiment) {
  return "runs/" + fs::path(target).stem().string() + "-" + experiment;
}

bool RunDir::is_run_directory(const std::string& dir) {
  std::error_code ec;
  const fs::path p(dir);
  if (fs::is_regular_file(p / kLockName, ec)) return true;
  // Runs written before the lock existed: loss.csv starts with nca's header.
  const fs::path csv = p / "loss.csv";
  if (!fs::is_regular_file(csv, ec)) return false;
  std::ifstream in(csv);
  std::string first;
  std::getline(in, first);
  return first + "\n" == kCsvHeader;
}

std::string RunDir::config_path_of(const std::string& dir) {
  return (fs::path(dir) / "config.toml").string();
}

std::string RunDir::rank_state_path(const std::string& dir, int rank, int64_t iteration,
                                    bool pool) {
  return (fs::path(dir) / "ranks" /
          fmt::format("{}{}_{:06d}.pt", pool ? "pool" : "rank", rank, iteration))
      .string();
}

std::vector<int> RunDir::saved_ranks(const std::string& dir, int64_t iteration, bool pool) {
  std::error_code ec;
  std::vector<int> ranks;
  for (auto it = fs::directory_iterator(fs::path(dir) / "ranks", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    int r = 0;
    int64_t k = 0;
    bool is_pool = false;
    if (parse_rank_file(it->path().filename().string(), &r, &k, &is_pool) && is_pool == pool &&
        k == iteration && r > 0)
      ranks.push_back(r);
  }
  std::sort(ranks.begin(), ranks.end());
  return ranks;
}

void RunDir::remove_rank_states(const std::string& dir, int rank, int64_t keep) {
  std::error_code ec;
  std::vector<fs::path> old;
  for (auto it = fs::directory_iterator(fs::path(dir) / "ranks", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    int r = 0;
    int64_t k = 0;
    if (parse_rank_file(it->path().filename().string(), &r, &k) && r == rank && k != keep)
      old.push_back(it->path());
  }
  for (const auto& f : old) fs::remove(f, ec);  // one left behind only costs disk
}

RunDir::~RunDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // closing releases the lock
}

void RunDir::lock() {
  if (lock_fd_ >= 0) return;
  const std::string path = (fs::path(dir_) / kLockName).string();
  // O_NOFOLLOW: a link planted in the name is refused, never written through.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  bool writable = fd >= 0;
  if (fd < 0) {
    const int err = errno;
    // A read-only lock file (a read-only mount, another user's run) still locks; the first
    // write into the run then fails with its own reason.
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
      throw std::runtime_error("cannot lock run directory '" + dir_ + "': cannot open '" + path +
                               "': " + std::strerror(err));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK)
      throw std::runtime_error("cannot lock run directory '" + dir_ + "': " + std::strerror(err));
    const long pid = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
    throw RunDirBusy("run directory '" + dir_ + "' is in use by another nca process" +
                     (pid > 0 ? " (pid " + std::to_string(pid) + ")" : std::string()) +
                     ": wait for it to finish or stop it (Ctrl-C saves), or pick another "
                     "--run-dir");
  }
  // The pid is written in place, not by rename: the lock belongs to this inode. Fixed width,
  // so that a reader never sees a shorter, older number's tail.
  const std::string pid = fmt::format("{:<15}\n", ::getpid());
  if (writable && ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // Only the message of a second writer loses the pid; the lock itself holds.
  }
  lock_fd_ = fd;
}

void RunDir::check(const std::string& dir, RunMode mode) {
  std::error_code ec;
  const fs::path p(dir);
  if (fs::exists(p, ec) && !fs::is_directory(p, ec))
    throw UsageError("run directory '" + dir + "' is a file");
  if (mode == RunMode::Resume) {
    if (!fs::exists(p / "model.pt", ec))
      throw UsageError("nothing to resume in '" + dir + "': no model.pt there");
    return;
  }
  if (!fs::exists(p, ec) || fs::is_empty(p, ec)) return;
  if (!is_run_directory(dir))
    throw UsageError("'" + dir + "' is not empty and is not an nca run directory" +
                     (mode == RunMode::Replace ? " (--force replaces only those)" : "") +
                     ": pick a new or empty --run-dir");
  if (mode == RunMode::New && !fs::exists(p / "model.pt", ec))
    throw UsageError(
        "run directory '" + dir +
        "' already exists and holds no model.pt (the run that made it ended before its "
        "first save, so there is nothing to resume): --force starts it again, "
        "--run-dir picks another");
  if (mode == RunMode::New)
    throw UsageError("run directory '" + dir +
                     "' already exists: --resume continues it, --force replaces it, "
                     "--run-dir picks another");
}

RunDir::RunDir(std::string dir, RunMode mode) : dir_(std::move(dir)), mode_(mode) {
  std::error_code ec;
  // A run directory that exists is locked first: a second writer hears that the run is in use
  // (and by whom) rather than that it exists.
  if (fs::is_directory(dir_, ec) && (is_run_directory(dir_) || fs::is_empty(dir_, ec))) lock();
  check(dir_, mode_);
}

void RunDir::remove_what_nca_wrote() {
  std::error_code ec;
  const fs::path p(dir_);
  // Collected first: removing entries while a directory is being read may skip others.
  std::vector<fs::path> remove, subfolders;
  auto scan = [&](const fs::path& dir, const auto& ours) {
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      const std::string name = it->path().filename().string();
      // symlink_status: a link named model.pt is removed as a link; what it points to is not
      // nca's to remove. A directory named like a file is not nca's either.
      std::error_code gone;  // removed meanwhile: then it is nobody's to remove
      const auto type = it->symlink_status(gone).type();
      if (type != fs::file_type::directory && written_by_nca(name, ours)) {
        remove.push_back(it->path());
      } else if (name != kLockName) {
        ++kept_;
      }
    }
  };
  scan(p, [](const std::string& n) { return is_top_file(n); });
  for (const auto& [sub, prefix, suffix] :
       {std::tuple{"checkpoints", "model_", ".pt"}, std::tuple{"pool", "pool_", ".png"},
        std::tuple{"ranks", "", ""}}) {
    std::error_code absent;  // no pool/ in a growing run
    if (fs::symlink_status(p / sub, absent).type() != fs::file_type::directory) continue;
    --kept_;  // the folder itself is nca's; what it holds is counted instead
    subfolders.push_back(p / sub);
    // Copies: C++17 lambdas cannot capture structured bindings (clang refuses; GCC allows it).
    const std::string pre = prefix, suf = suffix;
    scan(p / sub, [&](const std::string& n) {
      return pre.empty() ? parse_rank_file(n) : is_numbered(n, pre, suf);
    });
  }
  if (ec) throw std::runtime_error("cannot read '" + dir_ + "': " + ec.message());
  // All or nothing: stopping at a file it cannot remove would leave half of the old run, which
  // neither --resume nor the new run can use.
  for (const auto& f : remove)
    if (const std::string why = why_not_removable(f); !why.empty())
      throw std::runtime_error("--force cannot replace '" + dir_ + "': cannot remove '" +
                               f.string() + "': " + why + "; nothing was removed");
  for (const auto& f : remove) {
    fs::remove(f, ec);
    if (ec) throw std::runtime_error("cannot remove '" + f.string() + "': " + ec.message());
  }
  std::error_code left;  // a folder that still holds someone else's files stays
  for (const auto& d : subfolders) fs::remove(d, left);
}

void RunDir::prepare() {
  std::error_code ec;
  const fs::path p(dir_);
  if (mode_ == RunMode::Replace && fs::exists(p, ec)) remove_what_nca_wrote();
  fs::create_directories(p / "checkpoints", ec);
  if (ec) throw std::runtime_error("cannot create run directory '" + dir_ + "': " + ec.message());
  lock();
  for (const fs::path& sub : {p, p / "checkpoints", p / "pool", p / "ranks"})
    remove_stale_temporaries(sub.string());
}

std::string RunDir::model_path() const { return (fs::path(dir_) / "model.pt").string(); }
std::string RunDir::pool_path() const { return (fs::path(dir_) / "pool.pt").string(); }
std::string RunDir::next_pool_path() const { return (fs::path(dir_) / "pool.next.pt").string(); }
std::string RunDir::loss_csv_path() const { return (fs::path(dir_) / "loss.csv").string(); }

RunDir::Resumed RunDir::resume(Trainer& trainer) const {
  Resumed r;
  r.pool_iteration = trainer.load(model_path(), pool_path()).pool_iteration;
  return r;
}

void RunDir::open_loss_log(int64_t first_iteration) {
  const std::string csv = loss_csv_path();
  if (mode_ == RunMode::Resume) {
    keep_loss_rows_before(first_iteration);
  } else {
    write_text_atomically(csv, kCsvHeader);
  }
  csv_.open(csv, std::ios::app);
  if (!csv_) throw std::runtime_error("cannot write '" + csv + "': " + std::strerror(errno));
}

void RunDir::keep_loss_rows_before(int64_t iteration) {
  const std::string csv = loss_csv_path();
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(csv, ec))) return write_text_atomically(csv, kCsvHeader);
  // Read whole and bounded: loss.csv could be a link to /dev/zero or a FIFO (refused, one line).
  // A row is about 60 bytes: 1 GB is some 17 million iterations.
  std::istringstream in(read_file(csv, size_t{1} << 30));
  // An emptied, cut or edited loss.csv would go on after a silent gap: refused, saying what is
  // missing and the two ways on.
  const auto refuse = [&](const std::string& what) {
    return UsageError(in_quotes(csv) + " " + what + ", but model.pt is at iteration " +
                      std::to_string(iteration) +
                      ": put the run's whole loss.csv back, or remove it to go on with one that "
                      "starts at iteration " +
                      std::to_string(iteration));
  };
  std::string line, kept;
  std::getline(in, line);
  if (line + "\n" != kCsvHeader) throw refuse("has no header (iter,loss,...)");
  kept = line + "\n";
  int64_t next = 0;  // the iteration the next row must have
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    // A row cut short (a kill or a full disk in the middle of writing it) ends what is kept: its
    // iteration comes after the checkpoint's anyway.
    if (std::count(line.begin(), line.end(), ',') != 5) break;
    try {
      const int64_t row = std::stoll(line.substr(0, line.find(',')));
      if (row >= iteration || row != next) break;
    } catch (const std::exception&) {
      break;
    }
    ++next;
    kept += line + "\n";
    std::istringstream row(line);
    std::string iter, loss, log10, steps, lr;
    std::getline(row, iter, ',');
    std::getline(row, loss, ',');
    std::getline(row, log10, ',');
    std::getline(row, steps, ',');
    std::getline(row, lr, ',');
    try {
      const double x = std::stod(iter), y = std::stod(log10), rate = std::stod(lr);
      history_iters_.push_back(x);
      history_log10_.push_back(y);
      history_lr_.push_back(rate);
    } catch (const std::exception&) {
      // a malformed number only costs one point of the picture
    }
  }
  if (next != iteration)
    throw refuse(next == 0 ? std::string("holds no rows")
                           : "holds rows for iterations 0.." + std::to_string(next - 1) + " only");
  write_text_atomically(csv, kept);
}

void RunDir::write_config(const std::string& toml) const {
  write_text_atomically(config_path_of(dir_), toml);
}

void RunDir::append_loss(const IterationStats& s) {
  csv_ << s.iteration << ',' << fmt::format("{:.9g},{:.6f}", s.loss, s.log10_loss) << ',' << s.steps
       << ',' << fmt::format("{:g},{:.4f}", s.lr, s.seconds) << '\n';
  csv_.flush();
  if (!csv_)
    throw std::runtime_error("cannot write '" + loss_csv_path() + "': " + std::strerror(errno));
  history_iters_.push_back(static_cast<double>(s.iteration));
  history_log10_.push_back(s.log10_loss);
  history_lr_.push_back(s.lr);
}

void RunDir::write_pictures(Trainer& trainer) const {
  const fs::path dir(dir_);
  save_png((dir / "loss.png").string(),
           plot_loss_curve(history_iters_, history_log10_,
                           lr_change_marks(history_iters_, history_lr_)));
  const auto& before = trainer.last_batch_before();
  const auto& after = trainer.last_batch_after();
  if (before.defined()) {
    std::vector<RgbImage> before_cells, after_cells;
    for (int64_t k = 0; k < before.size(0); ++k) before_cells.push_back(render_rgb(before[k]));
    for (int64_t k = 0; k < after.size(0); ++k) after_cells.push_back(render_rgb(after[k]));
    save_png((dir / "batch.png").string(),
             batch_picture(before_cells, after_cells, render_rgb(trainer.target())));
  }
  if (SamplePool* pool = trainer.pool()) {
    std::vector<RgbImage> cells;
    for (int64_t i = 0; i < std::min<int64_t>(pool->size(), 48); ++i)
      cells.push_back(render_rgb(pool->state(i)));
    std::error_code ec;
    fs::create_directories(dir / "pool", ec);
    save_png((dir / "pool" / fmt::format("pool_{:06d}.png", trainer.iteration())).string(),
             upscale(tile(cells, 8, 2, kCellGap), 2));
  }
}

void RunDir::save(const Trainer& trainer) const {
  // The new pool becomes pool.pt only once model.pt of its iteration is committed: a save cut
  // short between the two leaves pool.pt the pool of model.pt's iteration, so that a resume
  // continues exactly (settle_pool() finishes a save cut short after the commit).
  trainer.save(model_path(), next_pool_path());
  if (!trainer.pool()) return;
  std::error_code ec;
  fs::rename(next_pool_path(), pool_path(), ec);
  if (ec) throw std::runtime_error("cannot write '" + pool_path() + "': " + ec.message());
}

void RunDir::settle_pool() const {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(next_pool_path(), ec))) return;
  int64_t next = -1;
  try {
    next = read_pool_file(next_pool_path()).iteration;
  } catch (const std::exception&) {  // unreadable: not the pool of any commit
  }
  if (next >= 0 && next == read_checkpoint_info(model_path()).iteration) {
    fs::rename(next_pool_path(), pool_path(), ec);
    if (ec) throw std::runtime_error("cannot write '" + pool_path() + "': " + ec.message());
  } else {
    fs::remove(next_pool_path(), ec);
  }
}

void RunDir::write_checkpoint(int64_t iteration) const {
  const auto ckpt = fs::path(dir_) / "checkpoints" / fmt::format("model_{:06d}.pt", iteration);
  // checkpoints/ may have been removed to make room: that must not stop the run. Not
  // create_directories: a removed run directory must not come back.
  std::error_code ec;
  fs::create_directory(ckpt.parent_path(), ec);
  link_or_copy_atomically(model_path(), ckpt.string());
}

void RunDir::write_target_picture(const Trainer& trainer) const {
  save_png((fs::path(dir_) / "target.png").string(),
           upscale(render_rgb(trainer.target()), kPictureScale));
}

void RunDir::write_growth(Trainer& trainer) const {
  const int64_t g = trainer.config().grid();
  const auto& m = trainer.config().model;
  const auto device = trainer.target().device();
  GifWriter gif((fs::path(dir_) / "growth.gif").string(), static_cast<int>(g * kPictureScale),
                static_cast<int>(g * kPictureScale));
  auto gen = at::detail::createCPUGenerator(0);
  RunOptions options;
  options.every = 2;
  options.stepper = trainer.stepper();
  run_steps(trainer.model(), seed_state(1, m.channels, g, g, torch::TensorOptions().device(device)),
            0, kGrowthSteps, gen, options, [&](int, const at::Tensor& state) {
              gif.add_frame(upscale(render_rgb(state), kPictureScale));
            });
  gif.close();
}

bool RunDir::removed(bool saved) const {
  std::error_code ec;
  return !fs::is_directory(dir_, ec) || (saved && !fs::exists(model_path(), ec));
}

}  // namespace nca
