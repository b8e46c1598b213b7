// Where nca computes: a CUDA device made current for this process, with the numerics that keep
// its results those of the CPU step (docs/design.md §6).
#pragma once

#include <c10/core/Device.h>

namespace nca {

// For a CUDA device: makes it this process's current device (a data-parallel rank's GPU, so that
// NCCL and every allocation without an explicit device land there), turns TF32 off for cuDNN and
// cuBLAS (these small convolutions are bandwidth-bound: TF32 saves nothing and costs errors near
// 1e-4 a step) and picks deterministic cuDNN algorithms without benchmarking. Nothing for the CPU.
void use_device(const c10::Device& device);

}  // namespace nca
