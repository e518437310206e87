// Which kernel table the public API uses. The aarch64 suites run under qemu with CPU
// models that have and lack the dot-product extension (tests/aarch64) and say which
// table each should pick, so both NEON paths are known to have run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tensor/cpu_features.h"
#include "tensor/dtype.h"
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

// Each NEON table has a kernel of its own for every weight type (none borrowed from the
// scalar table), so the suites' NEON-against-scalar comparisons compare two computations.
TEST(Dispatch, NeonTablesHaveTheirOwnKernelForEveryWeightType) {
  const detail::KernelTable* tables[] = {detail::neon_kernels(), detail::neon_dotprod_kernels()};
  if (tables[0] == nullptr) GTEST_SKIP() << "not an aarch64 build (or BATON_FORCE_SCALAR is set)";
  const detail::KernelTable& scalar = detail::scalar_kernels();
  for (const detail::KernelTable* k : tables) {
    if (k == nullptr) continue;
    for (uint32_t id = 0; id < 64; ++id) {  // ggml type ids; baton's are all below 64
      const auto info = dtype_info(id);
      if (!info || !detail::is_matvec_weight_type(info->type)) continue;
      const DType t = info->type;
      EXPECT_NE(detail::dot_rows_for(*k, t), detail::dot_rows_for(scalar, t)) << k->name << " " << dtype_name(t);
    }
  }
}

}  // namespace
}  // namespace baton
