#include "tools/simulate/cluster_file.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "partition/toml_text.h"

#include "transport/activation_frame.h"

namespace baton::sim {
namespace {

namespace fs = std::filesystem;

// Everything about one file: its label and how to build "label: key: what" errors.
struct Ctx {
  const std::string& label;
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw ClusterFileError(key.empty() ? fmt::format("{}: {}", label, what) : fmt::format("{}: {}: {}", label, key, what));
  }
};


std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string key_of(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
}

void check_known(const Ctx& c, const toml::table& table, const std::string& prefix,
                 const std::vector<std::string>& known) {
  for (auto&& [key, node] : table) {
    bool ok = false;
    for (const auto& k : known) ok = ok || key.str() == k;
    if (!ok) c.fail(key_of(prefix, key.str()), fmt::format("unknown key (known here: {})", join(known)));
  }
}

std::optional<std::string> opt_string(const Ctx& c, const toml::table& t, const std::string& prefix,
                                      std::string_view key) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  if (!n->is_string()) c.fail(key_of(prefix, key), fmt::format("expected a string, found {}", describe_toml_value(*n)));
  return *n->value<std::string>();
}

// A number in [min, max]; integers are accepted where decimals are.
std::optional<double> opt_number(const Ctx& c, const toml::table& t, const std::string& prefix, std::string_view key,
                                 double min, double max, bool min_exclusive) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  double v = 0;
  if (n->is_integer()) {
    v = static_cast<double>(*n->value<int64_t>());
  } else if (n->is_floating_point()) {
    v = *n->value<double>();
  } else {
    c.fail(key_of(prefix, key), fmt::format("expected a number, found {}", describe_toml_value(*n)));
  }
  const bool low = min_exclusive ? !(v > min) : !(v >= min);
  if (!std::isfinite(v) || low || v > max) {
    c.fail(key_of(prefix, key), fmt::format("expected a number {} {:g} and <= {:g}, found {:g}",
                                            min_exclusive ? ">" : ">=", min, max, v));
  }
  return v;
}

std::optional<int64_t> opt_integer(const Ctx& c, const toml::table& t, const std::string& prefix,
                                   std::string_view key, int64_t min, int64_t max) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  if (!n->is_integer()) c.fail(key_of(prefix, key), fmt::format("expected an integer, found {}", describe_toml_value(*n)));
  const int64_t v = *n->value<int64_t>();
  if (v < min || v > max) c.fail(key_of(prefix, key), fmt::format("expected an integer in [{}, {}], found {}", min, max, v));
  return v;
}

const toml::table* opt_table(const Ctx& c, const toml::table& t, std::string_view key) {
  const toml::node* n = t.get(key);
  if (!n) return nullptr;
  if (!n->is_table()) c.fail(std::string(key), fmt::format("expected a table ([{}]), found {}", key, describe_toml_value(*n)));
  return n->as_table();
}

std::vector<std::string> profile_ids(const ProfileCatalog& catalog) {
  std::vector<std::string> ids;
  for (const auto& [id, p] : catalog.profiles) ids.push_back(id);
  return ids;
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                    ch == '_' || ch == '.';
    if (!ok) return false;
  }
  return true;
}

struct LinkDefaults {
  std::optional<double> latency_ms, jitter_ms, bandwidth_mbps;
};

constexpr double kMaxLatencyMs = 10'000;
constexpr double kMaxMbps = 1e6;

LinkDefaults parse_link(const Ctx& c, const toml::table& t) {
  check_known(c, t, "link", {"latency_ms", "jitter_ms", "bandwidth_mbps"});
  LinkDefaults l;
  l.latency_ms = opt_number(c, t, "link", "latency_ms", 0, kMaxLatencyMs, false);
  l.jitter_ms = opt_number(c, t, "link", "jitter_ms", 0, kMaxLatencyMs, false);
  l.bandwidth_mbps = opt_number(c, t, "link", "bandwidth_mbps", 0, kMaxMbps, true);
  return l;
}

SimDevice parse_device(const Ctx& c, const toml::table& t, size_t index, const ProfileCatalog& catalog,
                       const LinkDefaults& link) {
  const std::string p = fmt::format("devices[{}]", index);
  check_known(c, t, p,
              {"profile", "name", "memory_mib", "compute_gflops", "memory_bandwidth_gbs", "link_latency_ms",
               "link_jitter_ms", "link_bandwidth_mbps"});
  const auto profile = opt_string(c, t, p, "profile");
  if (!profile) c.fail(p + ".profile", fmt::format("missing (expected one of {})", join(profile_ids(catalog))));
  auto it = catalog.profiles.find(*profile);
  if (it == catalog.profiles.end()) {
    c.fail(p + ".profile", fmt::format("no device profile '{}' in {} (have: {})", *profile, catalog.dir_label,
                                       join(profile_ids(catalog))));
  }
  SimDevice d;
  d.profile_id = *profile;
  d.profile = it->second;
  if (auto name = opt_string(c, t, p, "name")) {
    if (!valid_name(*name)) {
      c.fail(p + ".name", fmt::format("expected 1-64 letters, digits, '-', '_' or '.', found \"{}\"", *name));
    }
    d.profile.id = *name;
  }
  DeviceProfile& dp = d.profile;
  if (auto v = opt_integer(c, t, p, "memory_mib", 1, int64_t{16} * 1024 * 1024)) dp.memory_mib = *v;
  if (auto v = opt_number(c, t, p, "compute_gflops", 0, 1e7, true)) dp.compute_gflops = *v;
  if (auto v = opt_number(c, t, p, "memory_bandwidth_gbs", 0, 1e5, true)) dp.memory_bandwidth_gbs = *v;
  // Link: the device's own override, else the file's [link], else the profile.
  if (link.latency_ms) dp.link_latency_ms = *link.latency_ms;
  if (link.bandwidth_mbps) dp.link_bandwidth_mbps = *link.bandwidth_mbps;
  d.jitter_ms = link.jitter_ms.value_or(0.0);
  if (auto v = opt_number(c, t, p, "link_latency_ms", 0, kMaxLatencyMs, false)) dp.link_latency_ms = *v;
  if (auto v = opt_number(c, t, p, "link_bandwidth_mbps", 0, kMaxMbps, true)) dp.link_bandwidth_mbps = *v;
  if (auto v = opt_number(c, t, p, "link_jitter_ms", 0, kMaxLatencyMs, false)) d.jitter_ms = *v;
  // Symmetric jitter keeps the mean latency the planner uses; it cannot exceed it.
  if (d.jitter_ms > dp.link_latency_ms) {
    const bool own = t.get("link_jitter_ms") != nullptr;
    c.fail(own ? p + ".link_jitter_ms" : "link.jitter_ms",
           fmt::format("expected at most the link latency of device '{}' ({:g} ms), found {:g} ms", dp.id,
                       dp.link_latency_ms, d.jitter_ms));
  }
  return d;
}

Workload parse_workload(const Ctx& c, const toml::table& t) {
  const std::string p = "workload";
  check_known(c, t, p, {"prompts", "prompt_file", "requests", "concurrency", "max_tokens", "wire", "context"});
  Workload w;
  if (const toml::node* n = t.get("prompts")) {
    const toml::array* arr = n->as_array();
    if (!arr || arr->empty()) c.fail(p + ".prompts", fmt::format("expected a non-empty array of strings, found {}", describe_toml_value(*n)));
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      if (!e.is_string() || e.value<std::string>()->empty()) {
        c.fail(fmt::format("{}.prompts[{}]", p, i), fmt::format("expected a non-empty string, found {}", describe_toml_value(e)));
      }
      w.prompts.push_back(*e.value<std::string>());
    }
  }
  w.prompt_file = opt_string(c, t, p, "prompt_file");
  if (w.prompt_file && !w.prompts.empty()) c.fail(p, "give either prompts or prompt_file, not both");
  if (w.prompt_file && w.prompt_file->empty()) c.fail(p + ".prompt_file", "expected a file name, found an empty string");
  if (!w.prompt_file && w.prompts.empty()) c.fail(p, "missing prompts (an array of strings) or prompt_file");
  if (auto v = opt_integer(c, t, p, "requests", 1, kMaxRequests)) w.requests = static_cast<int>(*v);
  if (auto v = opt_integer(c, t, p, "concurrency", 1, kMaxConcurrency)) w.concurrency = static_cast<int>(*v);
  if (auto v = opt_integer(c, t, p, "max_tokens", 1, kMaxTokens)) w.max_tokens = static_cast<int>(*v);
  if (auto v = opt_integer(c, t, p, "context", 16, 1 << 20)) w.context = *v;
  if (auto wire = opt_string(c, t, p, "wire")) {
    try {
      (void)parse_wire_format(*wire);
    } catch (const std::exception&) {
      c.fail(p + ".wire", fmt::format("expected f32, f16 or int8, each optionally +zstd, found \"{}\"", *wire));
    }
    w.wire = *wire;
  }
  if (w.concurrency > w.requests) {
    c.fail(p + ".concurrency", fmt::format("expected at most requests ({}), found {}", w.requests, w.concurrency));
  }
  return w;
}

ModelSpec parse_model(const Ctx& c, const toml::table& t) {
  check_known(c, t, "model", {"path", "synth", "dtype"});
  ModelSpec m;
  m.path = opt_string(c, t, "model", "path");
  m.synth = opt_string(c, t, "model", "synth");
  if (m.path && m.synth) c.fail("model", "give either path or synth, not both");
  if (m.path && m.path->empty()) c.fail("model.path", "expected a file name, found an empty string");
  if (m.synth && *m.synth != "tiny" && *m.synth != "small" && *m.synth != "110m" && *m.synth != "7b") {
    c.fail("model.synth", fmt::format("expected tiny, small, 110m or 7b, found \"{}\"", *m.synth));
  }
  if (auto dtype = opt_string(c, t, "model", "dtype")) {
    if (!m.synth) c.fail("model.dtype", "only applies to a synthesised model (model.synth)");
    if (*dtype != "f32" && *dtype != "f16" && *dtype != "q8_0" && *dtype != "q4_0") {
      c.fail("model.dtype", fmt::format("expected f32, f16, q8_0 or q4_0, found \"{}\"", *dtype));
    }
    m.dtype = *dtype;
  }
  return m;
}

std::string stem_of(const std::string& label) { return fs::path(label).stem().string(); }

std::string read_text(const std::string& path, size_t limit, const std::string& what) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw ClusterFileError(fmt::format("{}: cannot read {}: {}", path, what, ec.message()));
  if (size > limit) throw ClusterFileError(fmt::format("{}: {} bytes is too large for {} (limit {})", path, size, what, limit));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ClusterFileError(fmt::format("{}: cannot open {}", path, what));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

ClusterSpec parse_cluster_file(std::string_view toml_text, const std::string& label, const ProfileCatalog& catalog) {
  const Ctx c{label};
  if (toml_text.size() > kMaxClusterFileBytes) {
    c.fail("", fmt::format("{} bytes is too large for a cluster file (limit {})", toml_text.size(), kMaxClusterFileBytes));
  }
  toml::table root;
  try {
    root = toml::parse(toml_text, label);
  } catch (const toml::parse_error& e) {
    throw ClusterFileError(fmt::format("{}:{}:{}: TOML syntax error: {}", label, e.source().begin.line,
                                       e.source().begin.column, e.description()));
  }
  check_known(c, root, "", {"name", "description", "strategy", "seed", "model", "link", "devices", "workload"});

  ClusterSpec spec;
  spec.name = opt_string(c, root, "", "name").value_or(stem_of(label));
  spec.description = opt_string(c, root, "", "description").value_or("");
  if (auto s = opt_string(c, root, "", "strategy")) {
    auto parsed = parse_strategy(*s);
    if (!parsed) c.fail("strategy", fmt::format("expected memory or latency, found \"{}\"", *s));
    spec.strategy = *parsed;
  }
  if (auto seed = opt_integer(c, root, "", "seed", 0, INT64_MAX)) spec.seed = static_cast<uint64_t>(*seed);
  if (const toml::table* m = opt_table(c, root, "model")) spec.model = parse_model(c, *m);
  LinkDefaults link;
  if (const toml::table* l = opt_table(c, root, "link")) link = parse_link(c, *l);

  const toml::node* devices = root.get("devices");
  if (!devices) c.fail("devices", "missing (expected [[devices]] entries with a profile)");
  const toml::array* arr = devices->as_array();
  if (!arr || arr->empty()) c.fail("devices", fmt::format("expected [[devices]] tables, found {}", describe_toml_value(*devices)));
  if (arr->size() > kMaxSimDevices) {
    c.fail("devices", fmt::format("expected at most {} devices, found {}", kMaxSimDevices, arr->size()));
  }
  // Names default to the profile id; repeated profiles become "phone", "phone-2", ...
  std::map<std::string, int> seen_profiles;
  std::set<std::string> names;
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::node& n = *arr->get(i);
    if (!n.is_table()) c.fail(fmt::format("devices[{}]", i), fmt::format("expected a table, found {}", describe_toml_value(n)));
    SimDevice d = parse_device(c, *n.as_table(), i, catalog, link);
    if (!n.as_table()->get("name")) {
      const int k = ++seen_profiles[d.profile_id];
      if (k > 1) d.profile.id = fmt::format("{}-{}", d.profile_id, k);
    }
    if (!names.insert(d.profile.id).second) {
      c.fail(fmt::format("devices[{}].name", i), fmt::format("'{}' names two devices; give each a unique name", d.profile.id));
    }
    if (std::string problem = validate_device_profile(d.profile, fmt::format("devices[{}]", i)); !problem.empty()) {
      c.fail("", problem);
    }
    spec.devices.push_back(std::move(d));
  }

  const toml::table* w = opt_table(c, root, "workload");
  if (!w) c.fail("workload", "missing (expected a [workload] table with prompts)");
  spec.workload = parse_workload(c, *w);
  return spec;
}

std::vector<std::string> parse_prompt_lines(std::string_view text, const std::string& label) {
  std::vector<std::string> prompts;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    prompts.push_back(line);
  }
  if (prompts.empty()) throw ClusterFileError(fmt::format("{}: no prompts (one per line; '#' starts a comment)", label));
  return prompts;
}

ProfileCatalog load_profile_catalog(const std::string& dir) {
  ProfileCatalog catalog;
  catalog.dir_label = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw ClusterFileError(fmt::format("{}: not a folder of device profiles", dir));
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".toml") continue;
    const std::string path = entry.path().string();
    DeviceProfile p = parse_device_profile(read_text(path, kMaxDeviceProfileBytes, "a device profile"), path);
    const std::string id = p.id;
    if (!catalog.profiles.emplace(id, std::move(p)).second) {
      throw ClusterFileError(fmt::format("{}: profile id '{}' is used by two files in {}", path, id, dir));
    }
  }
  if (catalog.profiles.empty()) throw ClusterFileError(fmt::format("{}: no device profiles (*.toml)", dir));
  return catalog;
}

ClusterSpec load_cluster_file(const std::string& path, const ProfileCatalog& catalog) {
  ClusterSpec spec = parse_cluster_file(read_text(path, kMaxClusterFileBytes, "a cluster file"), path, catalog);
  if (spec.workload.prompt_file) {
    const fs::path file = fs::path(path).parent_path() / *spec.workload.prompt_file;
    spec.workload.prompts = parse_prompt_lines(read_text(file.string(), kMaxClusterFileBytes, "a prompt file"), file.string());
  }
  return spec;
}

}  // namespace baton::sim
