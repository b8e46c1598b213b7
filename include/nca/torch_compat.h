// The one place where nca's code meets differences between LibTorch generations (1.13 on
// Debian 12, 2.x on Debian 13 and in every CUDA LibTorch). Everything else is written once.
#pragma once

#include <utility>

#include <torch/optim/optimizer.h>
#include <torch/version.h>

namespace nca {

// The key torch::optim::Optimizer::state() files a parameter's state under: the TensorImpl's
// address, as a string in 1.13 and as the pointer itself from 2.0 on.
inline auto optimizer_state_key(const at::Tensor& parameter) {
#if TORCH_VERSION_MAJOR >= 2
  return static_cast<void*>(parameter.unsafeGetTensorImpl());
#else
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
#endif
}

// F::apply(args...) for a custom autograd function F. GCC 14 reports a false -Warray-bounds or
// -Wstringop-overflow (which one depends on the inlining) inside libstdc++'s
// std::vector<bool>::reserve, which LibTorch 2.x's Function::apply inlines; nothing is out of
// bounds there. The reports are silenced for this call and nowhere else.
template <class F, class... Args>
auto apply_autograd_function(Args&&... args) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
  return F::apply(std::forward<Args>(args)...);
#pragma GCC diagnostic pop
}

// TCPStore's libuv server is the default from LibTorch 2.4 on, but Debian's LibTorch 2.6 is built
// without libuv (its own torchrun fails on that); the classic server exists in every version.
// Chosen by whether the options have the field, so no c10d header is needed here.
template <class TCPStoreOptions>
auto tcp_store_without_libuv(TCPStoreOptions& o) -> decltype(o.useLibUV = false, void()) {
  o.useLibUV = false;
}
inline void tcp_store_without_libuv(...) {}

}  // namespace nca
