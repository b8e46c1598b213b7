// libFuzzer target: the reader of Distill's model files (nlohmann/json, base64, the layer checks)
// on arbitrary bytes, as `nca grow --model FILE.json` uses it. A bad file must end in a
// UsageError ("cannot load model ..."), never in a crash, a sanitizer report, an exception of
// another kind, or a model that cannot run; a model that loads must write itself back as the
// same text its bytes decode to.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "nca/distill_format.h"
#include "nca/errors.h"
#include "nca/model.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  torch::set_num_threads(1);  // one input at a time; threads only add noise
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  try {
    nca::NCAModel model = nca::load_distill_from_memory(bytes, size, "fuzz.json");
    torch::NoGradGuard no_grad;
    auto gen = at::detail::createCPUGenerator(0);
    auto x = nca::seed_state(1, 16, 8, 8);
    x = model->step(x, gen);
    if (!torch::isfinite(x).all().item<bool>()) __builtin_trap();
    // Written out (a layer that is all zero cannot be) and read back, it writes the same text.
    try {
      const std::string text = nca::distill_json(model);
      nca::NCAModel back = nca::load_distill_from_memory(text.data(), text.size(), "back.json");
      if (nca::distill_json(back) != text) __builtin_trap();
    } catch (const nca::UsageError&) {  // an all-zero layer: Distill's format cannot hold it
    }
  } catch (const nca::UsageError&) {
    // the expected outcome for a bad file: one clear message
  }
  return 0;
}
