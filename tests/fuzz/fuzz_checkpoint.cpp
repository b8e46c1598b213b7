// libFuzzer target: the checkpoint loader (torch archive, nca header, weights, optimiser and
// generator state) on arbitrary bytes, as `nca grow --model` and `nca train --resume` use it,
// and the pool.pt loader on the same bytes, as `nca train --resume` uses it. A bad file must end
// in a std::runtime_error ("cannot load model ...", "cannot load pool ..."), never in a crash, a
// sanitizer report, a torch error that escapes unworded, or a model or pool that cannot be used.
#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include <torch/torch.h>

#include "nca/checkpoint.h"
#include "nca/model.h"
#include "nca/pool_file.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  torch::set_num_threads(1);  // one input at a time; threads only add noise
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  try {
    nca::CheckpointInfo info;
    nca::NCAModel model = nca::load_model_from_memory(bytes, size, "fuzz.pt", &info);
    // What train --resume does next: optimiser and generator state into a model of this config.
    torch::optim::Adam adam(model->parameters());
    at::Generator gen = at::detail::createCPUGenerator(0);
    nca::load_checkpoint_from_memory(bytes, size, "fuzz.pt", model, &adam, &gen);
    // A model that loaded must run.
    torch::NoGradGuard no_grad;
    const auto x = nca::seed_state(1, info.model.channels, 6, 6);
    model->step(x, gen);
  } catch (const std::runtime_error&) {
    // the expected outcome for a bad file: one clear message
  }
  try {
    nca::PoolFile file = nca::read_pool_from_memory(bytes, size, "fuzz.pt");
    // What train --resume does next: the run's pool takes it only when the shapes agree (the
    // seed corpus's pool is 8 x 16 x 12 x 12), then training samples from it.
    if (file.pool.shape() == std::array<int64_t, 4>{8, 16, 12, 12}) {
      at::Generator gen = at::detail::createCPUGenerator(0);
      file.pool.sample(4, gen);
      file.pool.compact();
    }
  } catch (const std::runtime_error&) {
  }
  return 0;
}
