#include "model/synth_gemma.h"

namespace baton {

bool is_gemma(Architecture arch) { return arch == Architecture::Gemma2 || arch == Architecture::Gemma3; }

void write_gemma_metadata(GgufWriter& w, Architecture arch, int head_dim) {
  const std::string p = architecture_name(arch) + ".";
  // Gemma's head size is given explicitly in real files (256 for most of them).
  w.set_u32(p + "attention.key_length", static_cast<uint32_t>(head_dim));
  w.set_u32(p + "attention.value_length", static_cast<uint32_t>(head_dim));
  w.set_u32(p + "attention.sliding_window", kSynthSlidingWindow);
  if (arch == Architecture::Gemma2) {
    // Real Gemma 2 caps attention scores at 50; the synthetic model's scores are a few
    // units, which a cap of 50 would barely bend, so the file asks for 5 to make the cap
    // matter (and a test able to notice it missing). The logit cap is the real one.
    w.set_f32(p + "attn_logit_softcapping", 5.0f);
    w.set_f32(p + "final_logit_softcapping", 30.0f);
  } else {
    // Gemma 3 4B and larger: global layers at base 1e6 with 8x linear scaling; the sliding
    // layers' base 10000 is implied.
    w.set_string(p + "rope.scaling.type", "linear");
    w.set_f32(p + "rope.scaling.factor", 8.0f);
  }
}

}  // namespace baton
