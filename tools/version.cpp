#include "tools/version.h"

#include <fmt/format.h>

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

// The kernel paths dispatch picks on this machine (tensor/cpu_features.h).
std::string kernels() {
#if defined(__x86_64__) || defined(__i386__)
  const CpuFeatures& f = cpu_features();
  std::string paths;
  for (const auto& [on, name] : {std::pair{f.avx2, "avx2"}, std::pair{f.fma, "fma"}, std::pair{f.f16c, "f16c"}}) {
    if (on) paths += std::string(paths.empty() ? "" : " ") + name;
  }
  return fmt::format("x86-64: {} (scalar reference always built; BATON_FORCE_SCALAR=1 forces it)",
                     paths.empty() ? "scalar only" : paths);
#elif defined(__aarch64__)
  return "aarch64 (scalar reference always built; BATON_FORCE_SCALAR=1 forces it)";
#else
  return "scalar";
#endif
}

}  // namespace

std::string version_text() {
  return fmt::format("baton {}\ncommit   {}\ncompiler {} (C++{}, {})\nkernels  {}\n", BATON_VERSION, git_commit(),
                     compiler(), __cplusplus / 100 % 100, BATON_BUILD_TYPE, kernels());
}

}  // namespace baton::cli
