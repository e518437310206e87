#include "tensor/cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

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
  // Not every compiler knows "f16c" for __builtin_cpu_supports: CPUID leaf 1, ECX bit 29.
  // The AVX2 check above already covers the OS saving YMM state, which F16C also needs.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  f.f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && ((ecx >> 29) & 1u) != 0 && f.avx2;
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  f.avx512_vnni = f.avx512 && __builtin_cpu_supports("avx512vnni");
  // BATON_NO_AVX512=1 keeps the AVX2 kernels (to compare the two on one machine).
  const char* no512 = std::getenv("BATON_NO_AVX512");
  if (no512 != nullptr && *no512 != '\0' && std::strcmp(no512, "0") != 0) f.avx512 = f.avx512_vnni = false;
#endif
#if defined(__aarch64__) && defined(__linux__)
  // The kernel's view of the CPU (also right under qemu-user, which reports its -cpu model).
  const unsigned long hwcap = getauxval(AT_HWCAP);
  f.neon = (hwcap & HWCAP_ASIMD) != 0;
  f.dotprod = f.neon && (hwcap & HWCAP_ASIMDDP) != 0;
  f.fp16 = f.neon && (hwcap & HWCAP_ASIMDHP) != 0;
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace baton
