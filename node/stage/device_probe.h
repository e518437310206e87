// What a node offers, read from the operating system rather than typed: usable memory
// (MemAvailable and any cgroup v1/v2 limit, minus a reserve for the system and other
// apps) and the device kind (Android's ro.build.characteristics, the DMI chassis type).
// Readers take a root directory so tests can supply a fake /proc and /sys; the parsing
// and the arithmetic are pure functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace baton {

struct MemoryFacts {
  std::optional<uint64_t> available_bytes;     // /proc/meminfo MemAvailable
  std::optional<uint64_t> cgroup_limit_bytes;  // the tightest cgroup limit ("max": none)
  uint64_t cgroup_usage_bytes = 0;             // what the cgroup already uses
  std::string limit_source;                    // "cgroup v2 /user.slice/...", for the log
};

// "MemAvailable:    8123456 kB" -> bytes; nullopt when absent.
std::optional<uint64_t> parse_mem_available(std::string_view meminfo);
// memory.max / memory.limit_in_bytes: "max" or a number of bytes; numbers at or above
// 2^60 (cgroup v1's "unlimited") count as no limit.
std::optional<uint64_t> parse_cgroup_limit(std::string_view text);
// The cgroup of this process from /proc/self/cgroup: the v2 line ("0::/path") or the v1
// memory controller's ("N:memory:/path"); nullopt if neither.
std::optional<std::string> cgroup_path(std::string_view proc_self_cgroup, bool v2);

MemoryFacts read_memory_facts(const std::filesystem::path& root = "/");
// MiB a node may offer for weights + KV: the smaller of MemAvailable and the cgroup's
// headroom, minus `reserve_mib`; at least 1 when anything is known, 0 when nothing is.
uint64_t usable_memory_mib(const MemoryFacts& facts, uint64_t reserve_mib);

struct KindFact {
  std::string kind;    // phone, tablet, laptop, pc, server
  std::string source;  // "DMI chassis type 10", "Android ro.build.characteristics=tablet"
};
// SMBIOS chassis type -> kind; nullopt for "other"/"unknown" (virtual machines say so).
std::optional<std::string> kind_for_chassis(int chassis_type);
// Android/HarmonyOS properties (getprop), else DMI; nullopt when the OS does not say.
std::optional<KindFact> detect_kind(const std::filesystem::path& root = "/");

}  // namespace baton
