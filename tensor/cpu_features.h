// Run-time CPU feature detection, so one portable binary uses AVX2/FMA/F16C on x86 and
// the NEON dot-product instructions on aarch64 when present.
#pragma once

namespace baton {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512 = false;       // F, BW, VL and DQ (and the OS saves the ZMM state)
  bool avx512_vnni = false;
  // aarch64 (from the kernel's HWCAP bits): Advanced SIMD, the SDOT/UDOT dot products
  // (ARMv8.2 FEAT_DotProd) and half-precision arithmetic (FEAT_FP16). fp16 is reported
  // but not used by the kernels: f16 weights convert to f32 with base-ARMv8 FCVTL and
  // accumulate in f32, since half-precision sums would round differently from every
  // other path and break bit-identical results across nodes.
  bool neon = false;
  bool dotprod = false;
  bool fp16 = false;
};

// Detected once; set BATON_FORCE_SCALAR=1 in the environment to force the scalar path
// (used by tests to check both paths against each other).
const CpuFeatures& cpu_features();

// The kernel table the public kernels use, chosen from cpu_features(): "avx2",
// "neon-dotprod", "neon" or "scalar" (for logs: which path a device runs).
const char* kernel_table_name();

}  // namespace baton
