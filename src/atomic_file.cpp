// write_bytes_atomically: temporary file, checked writes, fsync, rename, fsync of the directory.
#include "nca/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include <csignal>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nca/errors.h"

namespace nca {
namespace {

namespace fs = std::filesystem;

std::runtime_error write_error(const std::string& path, const std::string& why) {
  return std::runtime_error("cannot write '" + path + "': " + why);
}

void fsync_dir_of(const std::string& path) {
  const fs::path target(path);
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename already happened, durability is a bonus
  ::fsync(fd);
  ::close(fd);
}

// A file descriptor that closes itself.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and returns close()'s errno (0 when fine): some file systems report a failed
  // write only here.
  int close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// Buffers the bytes and writes them with write(2), keeping the first errno.
class FdSink final : public ByteSink {
 public:
  explicit FdSink(int fd) : fd_(fd) { buffer_.reserve(kBuffer); }
  using ByteSink::write;
  void write(const void* data, size_t size) noexcept override {
    if (error_ != 0) return;
    const char* p = static_cast<const char*>(data);
    if (buffer_.size() + size <= kBuffer) {
      buffer_.insert(buffer_.end(), p, p + size);
      return;
    }
    flush();
    if (size >= kBuffer) {
      write_all(p, size);
    } else {
      buffer_.insert(buffer_.end(), p, p + size);
    }
  }
  // Writes what is buffered; returns the first errno seen (0: all written).
  int flush() noexcept {
    if (error_ == 0 && !buffer_.empty()) write_all(buffer_.data(), buffer_.size());
    buffer_.clear();
    return error_;
  }
  int error() const { return error_; }

 private:
  static constexpr size_t kBuffer = size_t{1} << 20;

  void write_all(const char* p, size_t size) noexcept {
    while (size > 0 && error_ == 0) {
      const ssize_t n = ::write(fd_, p, size);
      if (n < 0) {
        if (errno != EINTR) error_ = errno;
        continue;
      }
      if (n == 0) error_ = EIO;  // not expected from a regular file; never spin on it
      p += n;
      size -= static_cast<size_t>(n);
    }
  }

  int fd_;
  int error_ = 0;
  std::vector<char> buffer_;
};

void rename_over(const std::string& tmp, const std::string& path) {
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error(std::strerror(errno));
}

constexpr const char* kTempInfix = ".tmp-";

// What a file that is not a regular one is, in words.
const char* kind_of(mode_t mode) {
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

std::string quoted(const std::string& path) { return "'" + excerpt(path, 200) + "'"; }

}  // namespace

std::string kind_of_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "nothing";
  return S_ISREG(st.st_mode) ? "a file" : kind_of(st.st_mode);
}

void check_replaceable(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return;
  std::string why = std::string(" is ") + kind_of(st.st_mode);
  if (S_ISLNK(st.st_mode))
    why += ": nca would replace the link, not write through it; give the path it points to";
  else
    why +=
        ", not a regular file: nca writes only regular files (a temporary file renamed over "
        "the old one)";
  throw UsageError("cannot write " + quoted(path) + ":" + why);
}

void check_readable_file(const std::string& path, size_t max_bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::runtime_error("cannot read " + quoted(path) + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw UsageError("cannot read " + quoted(path) + ": it is " + kind_of(st.st_mode) +
                     (S_ISDIR(st.st_mode) ? "" : ", not a regular file"));
  if (static_cast<size_t>(st.st_size) > max_bytes)
    throw UsageError("cannot read " + quoted(path) + ": " + std::to_string(st.st_size) +
                     " bytes, more than the " + std::to_string(max_bytes) + " nca reads");
}

std::string temporary_path_for(const std::string& path) {
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  return (dir / ("." + target.filename().string() + kTempInfix + std::to_string(::getpid())))
      .string();
}

bool is_temporary_name(const std::string& filename, std::string* target, long* pid) {
  const size_t at = filename.rfind(kTempInfix);
  if (filename.size() < 2 || filename[0] != '.' || at == std::string::npos || at < 2) return false;
  const std::string digits = filename.substr(at + std::strlen(kTempInfix));
  // A pid has at most 9 digits here (pid_max is at most 2^22 on Linux).
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  if (target) *target = filename.substr(1, at - 1);
  if (pid) *pid = std::stol(digits);
  return true;
}

void remove_stale_temporaries(const std::string& dir,
                              const std::function<bool(const std::string&)>& ours) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    long pid = 0;
    std::string target;
    if (!is_temporary_name(it->path().filename().string(), &target, &pid) ||
        (ours && !ours(target)))
      continue;
    const bool gone =
        pid == ::getpid() || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH);
    if (gone) {
      std::error_code rm;
      fs::remove(it->path(), rm);
    }
  }
}

void write_bytes_atomically(const std::string& path,
                            const std::function<void(ByteSink&)>& produce) {
  check_replaceable(path);
  const std::string tmp = temporary_path_for(path);
  // O_EXCL: a leftover temporary of a killed process with the same PID is replaced, never
  // written through (it could be a link planted there).
  ::unlink(tmp.c_str());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) throw write_error(path, std::strerror(errno));
  try {
    FdSink sink(fd.get());
    produce(sink);
    int err = sink.flush();
    if (err == 0 && ::fsync(fd.get()) != 0) err = errno;
    if (const int close_err = fd.close(); err == 0) err = close_err;
    if (err != 0) throw std::runtime_error(std::strerror(err));
    rename_over(tmp, path);
  } catch (const std::exception& e) {
    ::unlink(tmp.c_str());
    throw write_error(path, e.what());
  }
  fsync_dir_of(path);
}

void write_atomically(const std::string& path,
                      const std::function<void(const std::string&)>& write) {
  check_replaceable(path);
  const std::string tmp = temporary_path_for(path);
  try {
    write(tmp);
    Fd fd(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw std::runtime_error("nothing was written");
    if (::fsync(fd.get()) != 0) throw std::runtime_error(std::strerror(errno));
    fd.close();
    rename_over(tmp, path);
  } catch (const std::exception& e) {
    ::unlink(tmp.c_str());
    throw write_error(path, e.what());
  }
  fsync_dir_of(path);
}

void write_text_atomically(const std::string& path, const std::string& text) {
  write_bytes_atomically(path, [&](ByteSink& out) { out.write(text); });
}

void copy_file_atomically(const std::string& from, const std::string& to) {
  const std::string bytes = read_file(from);
  write_bytes_atomically(to, [&](ByteSink& out) { out.write(bytes); });
}

void link_or_copy_atomically(const std::string& from, const std::string& to) {
  check_replaceable(to);
  const std::string tmp = temporary_path_for(to);
  ::unlink(tmp.c_str());
  if (::link(from.c_str(), tmp.c_str()) != 0) {
    const int err = errno;
    // File systems without hard links (or across devices): copy instead.
    if (err == EXDEV || err == EPERM || err == EMLINK || err == ENOTSUP || err == EOPNOTSUPP)
      return copy_file_atomically(from, to);
    throw write_error(to, std::strerror(err));
  }
  if (std::rename(tmp.c_str(), to.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw write_error(to, std::strerror(err));
  }
  fsync_dir_of(to);
}

std::string read_file(const std::string& path, size_t max_bytes) {
  auto fail = [&](const std::string& why) {
    return std::runtime_error("cannot read '" + path + "': " + why);
  };
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) throw fail(std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw fail(std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw fail("is a directory");
  if (!S_ISREG(st.st_mode))
    throw UsageError("cannot read " + quoted(path) + ": it is " + kind_of(st.st_mode) +
                     ", not a regular file");
  if (static_cast<size_t>(st.st_size) > max_bytes)
    throw fail("larger than " + std::to_string(max_bytes) + " bytes");
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw fail(std::strerror(errno));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes)
      throw fail("larger than " + std::to_string(max_bytes) + " bytes");
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace nca
