// NEON kernel table for aarch64 CPUs with the dot-product instructions (ARMv8.2-A
// FEAT_DotProd: Cortex-A55/A75 and later). Compiled with +dotprod (tensor/CMakeLists.txt),
// which turns dot4_i8 into one SDOT; reached only after cpu_features() reports the
// extension. Results are bit-identical to kernels_neon.cpp: integer sums are exact.
#include "tensor/kernels_neon_impl.h"

#if !defined(__ARM_FEATURE_DOTPROD)
#error "kernels_neon_dotprod.cpp must be compiled with the dot-product extension (+dotprod)"
#endif

namespace baton::detail {

const KernelTable& neon_dotprod_kernel_table() { return kNeonTable; }

}  // namespace baton::detail
