// Chooses the kernel table once, from the CPU features.
#include "tensor/kernels_dispatch.h"

#include <stdexcept>
#include <string>

#include "tensor/cpu_features.h"

namespace baton::detail {

#if defined(BATON_HAVE_X86_KERNELS)
const KernelTable& avx2_kernel_table();  // kernels_avx2.cpp
KernelTable avx512_kernel_table(const KernelTable& avx2);  // kernels_avx512.cpp
#endif
#if defined(BATON_HAVE_NEON_KERNELS)
const KernelTable& neon_kernel_table();          // kernels_neon.cpp
const KernelTable& neon_dotprod_kernel_table();  // kernels_neon_dotprod.cpp
#endif

const KernelTable* avx2_kernels() {
#if defined(BATON_HAVE_X86_KERNELS)
  const CpuFeatures& f = cpu_features();
  if (f.avx2 && f.fma && f.f16c) return &avx2_kernel_table();
#endif
  return nullptr;
}

const KernelTable* avx512_kernels() {
#if defined(BATON_HAVE_X86_KERNELS)
  const CpuFeatures& f = cpu_features();
  if (avx2_kernels() != nullptr && f.avx512 && f.avx512_vnni) {
    static const KernelTable table = avx512_kernel_table(avx2_kernel_table());
    return &table;
  }
#endif
  return nullptr;
}

const KernelTable* neon_kernels() {
#if defined(BATON_HAVE_NEON_KERNELS)
  if (cpu_features().neon) return &neon_kernel_table();
#endif
  return nullptr;
}

const KernelTable* neon_dotprod_kernels() {
#if defined(BATON_HAVE_NEON_KERNELS)
  const CpuFeatures& f = cpu_features();
  if (f.neon && f.dotprod) return &neon_dotprod_kernel_table();
#endif
  return nullptr;
}

namespace {

const KernelTable& best_kernels() {
  if (const KernelTable* k = avx512_kernels()) return *k;
  if (const KernelTable* k = avx2_kernels()) return *k;
  if (const KernelTable* k = neon_dotprod_kernels()) return *k;
  if (const KernelTable* k = neon_kernels()) return *k;
  return scalar_kernels();
}

}  // namespace

const KernelTable& active_kernels() {
  static const KernelTable& table = best_kernels();
  return table;
}

}  // namespace baton::detail

namespace baton {

const char* kernel_table_name() { return detail::active_kernels().name; }

}  // namespace baton

namespace baton::detail {

bool is_matvec_weight_type(DType t) {
  switch (t) {
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::IQ4_NL:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      return true;
    case DType::Q8_K:
      return false;
  }
  return false;
}

DType activation_dtype(DType weight) {
  switch (weight) {
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::IQ4_NL:
      return DType::Q8_0;
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      return DType::Q8_K;
    default:
      return DType::F32;
  }
}

DotTileFn dot_rows_for(const KernelTable& k, DType weight) {
  switch (weight) {
    case DType::F32: return k.dot_f32;
    case DType::F16: return k.dot_f16;
    case DType::BF16: return k.dot_bf16;
    case DType::Q8_0: return k.dot_q8_0;
    case DType::Q4_0: return k.dot_q4_0;
    case DType::Q4_K: return k.dot_q4_K;
    case DType::Q6_K: return k.dot_q6_K;
    case DType::Q5_0: return k.dot_q5_0;
    case DType::Q5_1: return k.dot_q5_1;
    case DType::IQ4_NL: return k.dot_iq4_nl;
    case DType::Q5_K: return k.dot_q5_K;
    case DType::Q8_K: break;
  }
  throw std::invalid_argument("no matvec kernel for weight dtype " + std::string(dtype_name(weight)));
}

}  // namespace baton::detail
