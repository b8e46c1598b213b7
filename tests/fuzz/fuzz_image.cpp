// libFuzzer target: the training-target loader (stb_image decoding, size checks, shrinking,
// premultiplying) on arbitrary bytes. A bad file must end in a UsageError, never in a crash, a
// sanitizer report, a hang or an unbounded allocation.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "nca/errors.h"
#include "nca/image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    // The default size with a small pad: the shrinking path runs for anything larger than 40.
    const nca::Target t = nca::load_target_from_memory(data, size, 40, 2, "fuzz.png");
    if (t.grid != 44 || t.rgba.size() != 4u * 44 * 44) __builtin_trap();
  } catch (const nca::UsageError&) {
    // the expected outcome for most inputs: one clear message
  }
  return 0;
}
