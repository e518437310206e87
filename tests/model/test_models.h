// Synthesised GGUF files for model tests, written once per build into the build folder.
#pragma once

#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "model/synth.h"

namespace baton::test {

// The file for `opt` (progress is ignored), named by everything that shapes its bytes.
inline std::string synth_model_path(SynthOptions opt) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(BATON_BINARY_DIR) / "test-models";
  fs::create_directories(dir);
  const std::string type_name =
      opt.mix != SynthMix::None ? std::string(synth_mix_name(opt.mix)) : std::string(dtype_name(opt.dtype));
  const std::string variant = synth_variant_name(opt);
  const fs::path path = dir / fmt::format("synth-{}-{}-{}-{}-{}{}{}.gguf", opt.size, type_name, architecture_name(opt.arch),
                                          opt.tokenizer == TokenizerKind::Llama ? "spm" : "bpe", opt.seed,
                                          variant.empty() ? "" : "-", variant);
  if (!fs::exists(path)) {
    opt.progress = nullptr;
    // Unique temp name then rename: parallel test processes may race to create it.
    synth_model(opt).write(path.string());
  }
  return path.string();
}

inline std::string synth_model_path(const std::string& size, DType dtype,
                                    Architecture arch = Architecture::Llama,
                                    TokenizerKind tok = TokenizerKind::Llama, uint64_t seed = 7,
                                    SynthMix mix = SynthMix::None) {
  SynthOptions opt;
  opt.size = size;
  opt.dtype = dtype;
  opt.arch = arch;
  opt.tokenizer = tok;
  opt.seed = seed;
  opt.mix = mix;
  return synth_model_path(opt);
}

// The tiny synthesised model of `arch` in `dtype` (the newer architectures' tests).
inline SynthOptions tiny_synth(Architecture arch, DType dtype, uint64_t seed = 1) {
  SynthOptions o;
  o.size = "tiny";
  o.dtype = dtype;
  o.arch = arch;
  o.seed = seed;
  return o;
}

}  // namespace baton::test
