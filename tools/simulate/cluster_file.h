// Cluster files for `baton simulate` (configs/clusters/*.toml): which devices, over which
// links, run which model with which workload. Parsing and validation are pure (text in,
// ClusterSpec out); reading files and the device-profile folder is load_* below.
//
//   name = "home"                       # optional, default: the file's stem
//   description = "..."                 # optional
//   strategy = "memory"                 # memory | latency (default memory)
//   seed = 1                            # jitter seed (default 1)
//   [model]                             # optional; default: the model baton uses everywhere
//   path = "../../models/x.gguf"        #   a GGUF, relative to the cluster file, or
//   synth = "small"                     #   a synthesised model (tiny | small | 110m)
//   dtype = "q8_0"                      #   dtype of the synthesised model (default q8_0)
//   [link]                              # optional defaults for every device's link;
//   latency_ms = 2                      #   a key left out here comes from each profile
//   jitter_ms = 0.5                     #   (jitter: uniform in +-jitter_ms, <= latency)
//   bandwidth_mbps = 300
//   [[devices]]                         # in pipeline order (the memory strategy keeps it)
//   profile = "phone"                   #   configs/devices/<profile>.toml
//   name = "phone-1"                    #   optional, default: the profile id (+ "-2", ...)
//   memory_mib = 2048                   #   optional overrides of the profile's figures:
//                                       #   compute_gflops, memory_bandwidth_gbs,
//                                       #   link_latency_ms, link_jitter_ms, link_bandwidth_mbps
//   [workload]
//   prompts = ["In the beginning"]      # or prompt_file = "prompts.txt" (one per line)
//   requests = 4                        # completions in total (default 4)
//   concurrency = 1                     # at once (default 1)
//   max_tokens = 32                     # per completion (default 32)
//   wire = "int8+zstd"                  # activation codec between stages (default int8+zstd)
//   context = 256                       # tokens per session (default: the model's, max 2048)
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "partition/device_profile.h"
#include "partition/plan.h"

namespace baton::sim {

// Any problem with a cluster file: "home.toml: devices[1].profile: no device profile ...".
class ClusterFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SimDevice {
  std::string profile_id;  // the profile it was built from
  DeviceProfile profile;   // after overrides; profile.id is the device's unique name
  double jitter_ms = 0;    // link jitter (profiles have none)
};

struct ModelSpec {
  std::optional<std::string> path;   // as written (relative to the cluster file)
  std::optional<std::string> synth;  // tiny | small | 110m
  std::string dtype = "q8_0";
};

struct Workload {
  std::vector<std::string> prompts;
  std::optional<std::string> prompt_file;  // as written (relative to the cluster file)
  int requests = 4;
  int concurrency = 1;
  int max_tokens = 32;
  std::string wire = "int8+zstd";
  int64_t context = 0;  // 0: the model's trained context, capped
};

struct ClusterSpec {
  std::string name;
  std::string description;
  Strategy strategy = Strategy::Memory;
  uint64_t seed = 1;
  ModelSpec model;
  std::vector<SimDevice> devices;
  Workload workload;
};

// The device profiles a cluster file may name, by id, and where they came from (for errors).
struct ProfileCatalog {
  std::string dir_label;  // e.g. "configs/devices"
  std::map<std::string, DeviceProfile> profiles;
};

inline constexpr size_t kMaxClusterFileBytes = 256 * 1024;
inline constexpr size_t kMaxSimDevices = 16;
inline constexpr int kMaxRequests = 10000;
inline constexpr int kMaxConcurrency = 64;
inline constexpr int kMaxTokens = 4096;

// Parses and validates. `label` names the file in errors. Throws ClusterFileError.
ClusterSpec parse_cluster_file(std::string_view toml_text, const std::string& label, const ProfileCatalog& catalog);

// Prompts from a prompt file: one per line; blank lines and lines starting with '#' skipped.
// Throws ClusterFileError naming `label` when none remain.
std::vector<std::string> parse_prompt_lines(std::string_view text, const std::string& label);

// I/O: every *.toml in `dir` parsed as a device profile, keyed by its id.
ProfileCatalog load_profile_catalog(const std::string& dir);
// I/O: reads and parses a cluster file; a prompt_file is read too (into workload.prompts).
ClusterSpec load_cluster_file(const std::string& path, const ProfileCatalog& catalog);

}  // namespace baton::sim
