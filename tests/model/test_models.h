// Synthesised GGUF files for model tests, written once per build into the build folder.
#pragma once

#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "model/synth.h"

namespace baton::test {

inline std::string synth_model_path(const std::string& size, DType dtype,
                                    Architecture arch = Architecture::Llama,
                                    TokenizerKind tok = TokenizerKind::Llama, uint64_t seed = 7,
                                    SynthMix mix = SynthMix::None) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(BATON_BINARY_DIR) / "test-models";
  fs::create_directories(dir);
  const std::string type_name = mix != SynthMix::None ? std::string(synth_mix_name(mix)) : std::string(dtype_name(dtype));
  const fs::path path = dir / fmt::format("synth-{}-{}-{}-{}-{}.gguf", size, type_name, architecture_name(arch),
                                          tok == TokenizerKind::Llama ? "spm" : "bpe", seed);
  if (!fs::exists(path)) {
    SynthOptions opt;
    opt.size = size;
    opt.dtype = dtype;
    opt.arch = arch;
    opt.tokenizer = tok;
    opt.seed = seed;
    opt.mix = mix;
    // Unique temp name then rename: parallel test processes may race to create it.
    synth_model(opt).write(path.string());
  }
  return path.string();
}

}  // namespace baton::test
