// Write-then-rename, so that a crash or a kill never leaves a half-written file behind, and a
// full disk or a vanished folder is reported with the system's reason instead of a crash.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace nca {

// Where write_bytes_atomically's producer puts the file's bytes. write() never throws, so it can
// be called from inside C callbacks (torch's zip writer, stb_image_write) where an exception
// must not pass: the first error is kept, later bytes are dropped, and the error is reported
// once the producer returns.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(const void* data, size_t size) noexcept = 0;
  void write(const std::string& s) noexcept { write(s.data(), s.size()); }
};

// What nca may replace at `path`: nothing, or a regular file. Anything else throws UsageError
// with one line naming it: a device (as root, renaming over /dev/null would put a file in its
// place), a FIFO, a socket, a directory, or a symbolic link (the rename would replace the link,
// not write through it: give the path of the file it points to). The writers below call it
// first.
void check_replaceable(const std::string& path);

// What is at `path` (links followed), in words for a message: "a file", "a directory",
// "a character device", ...; "nothing" when there is nothing.
std::string kind_of_file(const std::string& path);

// Creates a temporary file beside `path`, lets produce() write the content into the sink, flushes
// it to disk (fsync), then renames it over `path`. On any failure (a write, the flush or the
// rename: a full disk, a removed folder, no permission) the temporary file is removed, `path`
// keeps its previous content, and a std::runtime_error says "cannot write 'path': " and the
// system's reason, e.g. "No space left on device".
void write_bytes_atomically(const std::string& path, const std::function<void(ByteSink&)>& produce);

// For libraries that insist on writing a file by name: calls write(tmp) with the temporary path,
// then flushes and renames as above. Prefer write_bytes_atomically, which knows the reason of a
// failed write.
void write_atomically(const std::string& path,
                      const std::function<void(const std::string&)>& write);

// write_bytes_atomically for text content.
void write_text_atomically(const std::string& path, const std::string& text);

// Copies the file `from` to `to` atomically; errors name the file and the reason.
void copy_file_atomically(const std::string& from, const std::string& to);

// Gives `to` the content of `from` atomically, as a hard link when the file system allows (no
// space used, nothing to copy: right for files nca only ever replaces by rename, never edits in
// place, like model.pt), else as a copy.
void link_or_copy_atomically(const std::string& from, const std::string& to);

// The temporary file write_bytes_atomically uses for `path`: ".NAME.tmp-PID" beside it.
std::string temporary_path_for(const std::string& path);

// Whether `filename` (no directory) is the name of one of those temporaries; when it is, sets
// `target` to the file it stands for and `pid` to the writer's process id.
bool is_temporary_name(const std::string& filename, std::string* target = nullptr,
                       long* pid = nullptr);

// A process killed in the middle of a save leaves its temporary behind (the real file beside it
// is intact). Removes those in `dir` (not below it) whose writer is gone or is this process;
// given `ours`, only the temporaries of the files it accepts (by name): in a folder of the
// user's, only those of the files nca writes there.
void remove_stale_temporaries(const std::string& dir,
                              const std::function<bool(const std::string&)>& ours = nullptr);

// The whole file as bytes; throws std::runtime_error "cannot read 'path': reason", also when it
// holds more than max_bytes. Only a regular file (or a link to one) is read: a device, FIFO or
// socket throws UsageError "cannot read 'path': it is a FIFO, not a regular file" without
// waiting on it (a FIFO with no writer would block forever, /dev/zero never ends).
std::string read_file(const std::string& path, size_t max_bytes = size_t{1} << 32);

// The checks of read_file without reading: `path` is a regular file (or a link to one) of at
// most max_bytes; UsageError "cannot read 'path': ..." otherwise.
void check_readable_file(const std::string& path, size_t max_bytes);

}  // namespace nca
