// Run-time CPU feature detection, so one portable binary uses AVX2/FMA/F16C when present.
#pragma once

namespace baton {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512 = false;       // F, BW, VL and DQ (and the OS saves the ZMM state)
  bool avx512_vnni = false;
};

// Detected once; set BATON_FORCE_SCALAR=1 in the environment to force the scalar path
// (used by tests to check both paths against each other).
const CpuFeatures& cpu_features();

}  // namespace baton
