#include "tools/default_model.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>

#include "model/synth.h"

namespace fs = std::filesystem;

namespace baton::cli {

namespace {

// The trained model shipped in models/ (issue 8); first match wins.
constexpr const char* kShippedModels[] = {"models/baton-kjv-5m.q8_0.gguf"};
constexpr const char* kSynthSize = "small";

}  // namespace

std::string cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "baton").string();
  if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".cache" / "baton").string();
  return (fs::temp_directory_path() / "baton-cache").string();
}

std::string resolve_model(const std::optional<std::string>& requested) {
  if (requested) {
    if (!fs::exists(*requested)) throw std::runtime_error(fmt::format("model file '{}' does not exist", *requested));
    return *requested;
  }
  if (const char* env = std::getenv("BATON_MODEL"); env && *env) {
    if (!fs::exists(env)) throw std::runtime_error(fmt::format("BATON_MODEL='{}' does not exist", env));
    return env;
  }
  for (const char* rel : kShippedModels) {
    const fs::path p = fs::path(BATON_SOURCE_DIR) / rel;
    if (fs::exists(p)) return p.string();
  }
  const fs::path dir = cache_dir();
  const fs::path path = dir / fmt::format("baton-synth-{}-q8_0.gguf", kSynthSize);
  if (!fs::exists(path)) {
    fmt::print(stderr, "No model given: synthesising the default model (random weights, {} size, q8_0) into {}\n",
               kSynthSize, path.string());
    fs::create_directories(dir);
    SynthOptions opt;
    opt.size = kSynthSize;
    opt.dtype = DType::Q8_0;
    synth_model(opt).write(path.string());
  } else {
    spdlog::info("using the synthesised default model {}", path.string());
  }
  return path.string();
}

}  // namespace baton::cli
