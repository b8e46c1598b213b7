// Making a CUDA device current and its numerics exact (see device.h). Only generic c10 and ATen
// headers: the same source builds against a CPU-only LibTorch, where no CUDA device can reach it.
#include "nca/device.h"

#include <ATen/Context.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

namespace nca {

void use_device(const c10::Device& device) {
  if (!device.is_cuda()) return;
  if (device.has_index()) c10::impl::getDeviceGuardImpl(device.type())->setDevice(device);
  auto& context = at::globalContext();
  context.setAllowTF32CuDNN(false);
  context.setAllowTF32CuBLAS(false);
  context.setDeterministicCuDNN(true);
  context.setBenchmarkCuDNN(false);
}

}  // namespace nca
