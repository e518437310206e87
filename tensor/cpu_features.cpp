#include "tensor/cpu_features.h"

#include <cstdlib>
#include <cstring>

namespace baton {

namespace {

bool force_scalar_requested() {
  const char* v = std::getenv("BATON_FORCE_SCALAR");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

CpuFeatures detect() {
  CpuFeatures f;
  if (force_scalar_requested()) return f;
#if defined(__x86_64__) || defined(__i386__)
  // __builtin_cpu_supports also checks that the OS saves the YMM state (OSXSAVE/XGETBV),
  // which a bare CPUID bit test would miss.
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.f16c = __builtin_cpu_supports("f16c");
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace baton
