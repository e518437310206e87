#include "tools/version.h"

#include <fmt/format.h>

#include <string>
#include <utility>
#include <vector>

#include "tensor/cpu_features.h"

namespace baton::cli {

namespace {

std::string compiler() {
#if defined(__clang__)
  return fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  return fmt::format("GCC {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
  return "unknown compiler";
#endif
}

// The kernel table dispatch picked on this machine and the CPU features it was picked
// from (tensor/cpu_features.h).
std::string kernels() {
  const CpuFeatures& f = cpu_features();
#if defined(__x86_64__) || defined(__i386__)
  const char* arch = "x86-64";
  const std::vector<std::pair<bool, const char*>> flags = {
      {f.avx2, "avx2"}, {f.fma, "fma"}, {f.f16c, "f16c"}, {f.avx512, "avx512"}, {f.avx512_vnni, "avx512-vnni"}};
#elif defined(__aarch64__)
  const char* arch = "aarch64";
  const std::vector<std::pair<bool, const char*>> flags = {{f.neon, "neon"}, {f.dotprod, "dotprod"}, {f.fp16, "fp16"}};
#else
  const char* arch = "other";
  const std::vector<std::pair<bool, const char*>> flags;
#endif
  std::string features;
  for (const auto& [on, name] : flags) {
    if (on) features += std::string(features.empty() ? "" : " ") + name;
  }
  return fmt::format("{} ({}: {}; scalar reference always built, BATON_FORCE_SCALAR=1 forces it)",
                     kernel_table_name(), arch, features.empty() ? "no SIMD features" : features);
}

}  // namespace

std::string version_text() {
  return fmt::format("baton {}\ncommit   {}\ncompiler {} (C++{}, {})\nkernels  {}\n", BATON_VERSION, git_commit(),
                     compiler(), __cplusplus / 100 % 100, BATON_BUILD_TYPE, kernels());
}

}  // namespace baton::cli
