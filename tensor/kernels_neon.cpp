// NEON kernel table for every aarch64 CPU (base ARMv8-A; phones from Cortex-A53 on).
// The kernels themselves are in kernels_neon_impl.h (and kernels_exact_neon_impl.h, which
// it includes), shared with the dot-product build.
#include "tensor/kernels_neon_impl.h"

namespace baton::detail {

// Not declared in a header on purpose: only kernels_dispatch.cpp may reach it.
const KernelTable& neon_kernel_table() { return kNeonTable; }

}  // namespace baton::detail
