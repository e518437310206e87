// Which kernel table the public API uses. The aarch64 suites run under qemu with CPU
// models that have and lack the dot-product extension (tests/aarch64) and say which
// table each should pick, so both NEON paths are known to have run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tensor/cpu_features.h"
#include "tensor/kernels_dispatch.h"

namespace baton {
namespace {

TEST(Dispatch, ActiveTableIsTheExpectedOne) {
  const char* expected = std::getenv("BATON_EXPECT_KERNELS");
  if (expected == nullptr) GTEST_SKIP() << "BATON_EXPECT_KERNELS not set (the aarch64 runs under qemu set it)";
  EXPECT_EQ(std::string(detail::active_kernels().name), expected);
}

TEST(Dispatch, ActiveTableFollowsTheCpuFeatures) {
  const CpuFeatures& f = cpu_features();
  const std::string active = detail::active_kernels().name;
#if defined(__aarch64__)
  if (std::getenv("BATON_FORCE_SCALAR") != nullptr) GTEST_SKIP() << "BATON_FORCE_SCALAR is set";
  EXPECT_TRUE(f.neon) << "every aarch64 Linux CPU has Advanced SIMD";
  EXPECT_EQ(active, f.dotprod ? "neon-dotprod" : "neon");
  EXPECT_EQ(detail::neon_dotprod_kernels() != nullptr, f.dotprod);
#else
  EXPECT_EQ(detail::neon_kernels(), nullptr);
  EXPECT_EQ(detail::neon_dotprod_kernels(), nullptr);
  const detail::KernelTable* best = detail::avx512_kernels() ? detail::avx512_kernels() : detail::avx2_kernels();
  EXPECT_EQ(active, best != nullptr ? best->name : "scalar");
  EXPECT_FALSE(f.neon);
#endif
}

}  // namespace
}  // namespace baton
