// Write-then-rename, so that a crash or a kill never leaves a half-written file behind.
#pragma once

#include <functional>
#include <string>

namespace nca {

// Calls write(tmp) with a temporary path beside `path`, flushes it to disk, then renames it
// over `path`. On any failure the temporary file is removed, `path` is untouched, and a
// std::runtime_error names the file and the reason.
void write_atomically(const std::string& path,
                      const std::function<void(const std::string&)>& write);

// write_atomically for text content.
void write_text_atomically(const std::string& path, const std::string& text);

}  // namespace nca
