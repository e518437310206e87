#include "tools/default_model.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "model/synth.h"

namespace fs = std::filesystem;

namespace baton::cli {

namespace {

// The trained model shipped in models/ (issue 8); first match wins.
constexpr const char* kShippedModels[] = {"baton-kjv-5m.q8_0.gguf"};
constexpr const char* kSynthSize = "small";

fs::path executable_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

// Where shipped models may be, in order: next to an installed binary
// (<prefix>/bin/baton -> <prefix>/share/baton/models), the prefix it was built to be
// installed in, and the source tree it was built from.
std::vector<fs::path> model_dirs() {
  std::vector<fs::path> dirs;
  if (const fs::path exe = executable_dir(); !exe.empty()) dirs.push_back(exe.parent_path() / "share" / "baton" / "models");
  dirs.push_back(fs::path(BATON_INSTALL_DATADIR) / "models");
  dirs.push_back(fs::path(BATON_SOURCE_DIR) / "models");
  return dirs;
}

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
  for (const fs::path& dir : model_dirs()) {
    for (const char* name : kShippedModels) {
      if (fs::exists(dir / name)) return (dir / name).string();
    }
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
