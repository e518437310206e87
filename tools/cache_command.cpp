// `baton cache list|clean`: what baton keeps in its cache folder (shards fetched by
// nodes, synthesised default models) and removing it.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "node/stage/shard_cache.h"
#include "tools/commands.h"
#include "tools/default_model.h"

namespace fs = std::filesystem;

namespace baton::cli {

namespace {

struct CacheArgs {
  std::string dir;
};

// Files baton wrote at the top of the cache: synthesised default models.
std::vector<fs::path> synthesised_models(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& f : fs::directory_iterator(dir, ec)) {
    const std::string name = f.path().filename().string();
    if (f.is_regular_file(ec) && name.rfind("baton-synth-", 0) == 0) out.push_back(f.path());
  }
  return out;
}

std::string age(fs::file_time_type t) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(fs::file_time_type::clock::now() - t).count();
  if (s < 120) return fmt::format("{} s ago", s);
  if (s < 7200) return fmt::format("{} min ago", s / 60);
  if (s < 172800) return fmt::format("{} h ago", s / 3600);
  return fmt::format("{} days ago", s / 86400);
}

int list(const CacheArgs& a) {
  const auto shards = list_cached_shards(a.dir);
  const auto synth = synthesised_models(a.dir);
  uint64_t total = 0;
  fmt::print("cache: {}\n", a.dir);
  if (shards.empty() && synth.empty()) {
    fmt::print("(empty)\n");
    return 0;
  }
  for (const auto& s : shards) {
    fmt::print("  {:>9.1f} MiB  used {:<14} shards/{}/{}\n", s.bytes / 1048576.0, age(s.last_used), s.model_hash,
               s.path.filename().string());
    total += s.bytes;
  }
  std::error_code ec;
  for (const auto& p : synth) {
    const uint64_t bytes = fs::file_size(p, ec);
    fmt::print("  {:>9.1f} MiB  used {:<14} {} (synthesised model)\n", bytes / 1048576.0,
               age(fs::last_write_time(p, ec)), p.filename().string());
    total += bytes;
  }
  fmt::print("total {:.1f} MiB in {} file(s)\n", total / 1048576.0, shards.size() + synth.size());
  return 0;
}

int clean(const CacheArgs& a) {
  uint64_t freed = 0;
  size_t files = 0;
  std::error_code ec;
  for (const auto& s : list_cached_shards(a.dir)) {
    if (fs::remove(s.path, ec)) {
      freed += s.bytes;
      ++files;
    }
  }
  fs::remove_all(fs::path(a.dir) / "shards", ec);
  for (const auto& p : synthesised_models(a.dir)) {
    const uint64_t bytes = fs::file_size(p, ec);
    if (fs::remove(p, ec)) {
      freed += bytes;
      ++files;
    }
  }
  fmt::print("removed {} file(s), {:.1f} MiB, from {}\n", files, freed / 1048576.0, a.dir);
  return 0;
}

}  // namespace

void register_cache(CLI::App& app, CommandRunner& runner) {
  auto a = std::make_shared<CacheArgs>();
  a->dir = cache_dir();
  CLI::App* group = app.add_subcommand("cache", "List or empty baton's cache (fetched shards, synthesised models)");
  group->require_subcommand(1);
  group->add_option("--cache-dir", a->dir, "The cache folder (default: $XDG_CACHE_HOME/baton or ~/.cache/baton)")
      ->capture_default_str();
  group->fallthrough();
  CLI::App* l = group->add_subcommand("list", "Show what is cached, most recently used first");
  l->callback([a, &runner] { runner = [a] { return list(*a); }; });
  CLI::App* c = group->add_subcommand("clean", "Delete every cached shard and synthesised model (refetched when needed)");
  c->callback([a, &runner] { runner = [a] { return clean(*a); }; });
}

}  // namespace baton::cli
