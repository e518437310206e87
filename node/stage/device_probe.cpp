#include "node/stage/device_probe.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

namespace baton {

namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr size_t kMaxRead = 1 << 16;  // every file read here is a few lines

std::optional<std::string> read_small(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string out(kMaxRead, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  s = trim(s);
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// Reads a getprop-style property by running the tool, if the system has it.
std::optional<std::string> android_property(const std::filesystem::path& root, const char* name) {
  const std::filesystem::path tool = root / "system/bin/getprop";
  std::error_code ec;
  if (!std::filesystem::exists(tool, ec)) return std::nullopt;
  const std::string command = fmt::format("'{}' {} 2>/dev/null", tool.string(), name);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return std::nullopt;
  char buffer[256] = {0};
  const size_t n = fread(buffer, 1, sizeof(buffer) - 1, pipe);
  pclose(pipe);
  const std::string value(trim(std::string_view(buffer, n)));
  if (value.empty()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<uint64_t> parse_mem_available(std::string_view meminfo) {
  std::istringstream in{std::string(meminfo)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::string_view rest = trim(std::string_view(line).substr(13));
    const auto space = rest.find(' ');
    const auto kb = parse_u64(rest.substr(0, space));
    if (!kb) return std::nullopt;
    return *kb * 1024;
  }
  return std::nullopt;
}

std::optional<uint64_t> parse_cgroup_limit(std::string_view text) {
  text = trim(text);
  if (text == "max") return std::nullopt;
  auto v = parse_u64(text);
  if (!v || *v >= (1ull << 60)) return std::nullopt;
  return v;
}

std::optional<std::string> cgroup_path(std::string_view proc_self_cgroup, bool v2) {
  std::istringstream in{std::string(proc_self_cgroup)};
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find(':');
    const auto second = line.find(':', first == std::string::npos ? 0 : first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (v2 && line.substr(0, first) == "0" && controllers.empty()) return path;
    if (!v2) {
      std::istringstream list(controllers);
      std::string c;
      while (std::getline(list, c, ',')) {
        if (c == "memory") return path;
      }
    }
  }
  return std::nullopt;
}

MemoryFacts read_memory_facts(const std::filesystem::path& root) {
  MemoryFacts f;
  if (auto meminfo = read_small(root / "proc/meminfo")) f.available_bytes = parse_mem_available(*meminfo);
  const auto self = read_small(root / "proc/self/cgroup");
  if (!self) return f;
  // cgroup v2: every level up to the root may set memory.max; the tightest headroom counts.
  if (auto path = cgroup_path(*self, true)) {
    const std::filesystem::path top = root / "sys/fs/cgroup";
    std::vector<std::filesystem::path> levels{top};  // the root, then each level down
    for (const auto& part : std::filesystem::path(*path).relative_path()) {
      if (!part.empty() && levels.size() < 64) levels.push_back(levels.back() / part);
    }
    std::optional<uint64_t> best_headroom;
    for (const auto& dir : levels) {
      const auto limit = read_small(dir / "memory.max");
      const auto bytes = limit ? parse_cgroup_limit(*limit) : std::nullopt;
      if (!bytes) continue;
      const uint64_t used = std::min(*bytes, parse_u64(read_small(dir / "memory.current").value_or("0")).value_or(0));
      if (!best_headroom || *bytes - used < *best_headroom) {
        best_headroom = *bytes - used;
        f.cgroup_limit_bytes = bytes;
        f.cgroup_usage_bytes = used;
        f.limit_source = "cgroup v2 /" + dir.lexically_relative(top).string();
      }
    }
    if (f.cgroup_limit_bytes) return f;
  }
  if (auto path = cgroup_path(*self, false)) {
    const std::filesystem::path dir = root / "sys/fs/cgroup/memory" / std::filesystem::path(*path).relative_path();
    if (auto limit = read_small(dir / "memory.limit_in_bytes")) {
      if (auto bytes = parse_cgroup_limit(*limit)) {
        f.cgroup_limit_bytes = bytes;
        f.cgroup_usage_bytes =
            std::min(*bytes, parse_u64(read_small(dir / "memory.usage_in_bytes").value_or("0")).value_or(0));
        f.limit_source = fmt::format("cgroup v1 {}", *path);
      }
    }
  }
  return f;
}

uint64_t usable_memory_mib(const MemoryFacts& facts, uint64_t reserve_mib) {
  std::optional<uint64_t> bytes = facts.available_bytes;
  if (facts.cgroup_limit_bytes) {
    const uint64_t headroom = *facts.cgroup_limit_bytes - std::min(*facts.cgroup_limit_bytes, facts.cgroup_usage_bytes);
    bytes = bytes ? std::min(*bytes, headroom) : headroom;
  }
  if (!bytes) return 0;
  const uint64_t mib = *bytes / kMiB;
  return mib > reserve_mib ? mib - reserve_mib : 1;
}

std::optional<std::string> kind_for_chassis(int t) {
  switch (t) {
    case 8: case 9: case 10: case 14: case 31: case 32: return "laptop";
    case 30: return "tablet";
    case 11: return "phone";
    case 17: case 23: case 25: case 28: case 29: return "server";
    case 3: case 4: case 5: case 6: case 7: case 13: case 15: case 16: case 24: case 35: case 36: return "pc";
    default: return std::nullopt;  // 1 other, 2 unknown (virtual machines), docking stations...
  }
}

std::optional<KindFact> detect_kind(const std::filesystem::path& root) {
  if (auto c = android_property(root, "ro.build.characteristics")) {
    const bool tablet = c->find("tablet") != std::string::npos;
    return KindFact{tablet ? "tablet" : "phone", "Android ro.build.characteristics=" + *c};
  }
  if (auto t = read_small(root / "sys/class/dmi/id/chassis_type")) {
    if (auto n = parse_u64(*t)) {
      if (auto kind = kind_for_chassis(static_cast<int>(*n))) return KindFact{*kind, fmt::format("DMI chassis type {}", *n)};
    }
  }
  return std::nullopt;
}

}  // namespace baton
