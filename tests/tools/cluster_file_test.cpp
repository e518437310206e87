// Cluster files for `baton simulate`: a good file parses with defaults and overrides
// applied, every kind of mistake is named by file and key, and the shipped files parse.
#include <gtest/gtest.h>

#include <filesystem>

#include "tools/simulate/cluster_file.h"

namespace baton::sim {
namespace {

ProfileCatalog catalog() {
  ProfileCatalog c;
  c.dir_label = "configs/devices";
  DeviceProfile phone{"phone", "phone", 3072, 60, 30, 4, 300};
  DeviceProfile pc{"pc", "pc", 24576, 300, 40, 0.2, 940};
  DeviceProfile tablet{"tablet", "tablet", 4096, 100, 50, 3, 400};
  c.profiles = {{"phone", phone}, {"pc", pc}, {"tablet", tablet}};
  return c;
}

const std::string kGood = R"(
description = "a test"
strategy = "latency"
seed = 9
[link]
jitter_ms = 0.1
[[devices]]
profile = "phone"
memory_mib = 2048
link_jitter_ms = 1
[[devices]]
profile = "phone"
[[devices]]
profile = "pc"
name = "desk"
compute_gflops = 123.5
link_latency_ms = 0.5
link_bandwidth_mbps = 100
[workload]
prompts = ["In the beginning", "You will be"]
requests = 6
concurrency = 2
max_tokens = 16
wire = "f16+zstd"
context = 128
)";

std::string error_of(const std::string& text, const std::string& label = "home.toml") {
  try {
    parse_cluster_file(text, label, catalog());
  } catch (const ClusterFileError& e) {
    return e.what();
  }
  return "<no error>";
}

// kGood with `from` replaced by `to` (which must occur).
std::string edited(const std::string& from, const std::string& to) {
  std::string s = kGood;
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? s : s.replace(at, from.size(), to);
}

TEST(ClusterFile, ParsesAGoodFile) {
  const ClusterSpec s = parse_cluster_file(kGood, "configs/clusters/home.toml", catalog());
  EXPECT_EQ(s.name, "home");  // the file's stem
  EXPECT_EQ(s.description, "a test");
  EXPECT_EQ(s.strategy, Strategy::Latency);
  EXPECT_EQ(s.seed, 9u);
  EXPECT_FALSE(s.model.path);
  EXPECT_FALSE(s.model.synth);
  ASSERT_EQ(s.devices.size(), 3u);
  // Repeated profiles get unique names; overrides apply; the rest comes from the profile.
  EXPECT_EQ(s.devices[0].profile.id, "phone");
  EXPECT_EQ(s.devices[1].profile.id, "phone-2");
  EXPECT_EQ(s.devices[2].profile.id, "desk");
  EXPECT_EQ(s.devices[2].profile_id, "pc");
  EXPECT_EQ(s.devices[0].profile.memory_mib, 2048);
  EXPECT_EQ(s.devices[1].profile.memory_mib, 3072);
  EXPECT_DOUBLE_EQ(s.devices[2].profile.compute_gflops, 123.5);
  EXPECT_DOUBLE_EQ(s.devices[2].profile.memory_bandwidth_gbs, 40);
  // Link: device override > [link] > profile.
  EXPECT_DOUBLE_EQ(s.devices[0].profile.link_latency_ms, 4);
  EXPECT_DOUBLE_EQ(s.devices[0].jitter_ms, 1);
  EXPECT_DOUBLE_EQ(s.devices[1].jitter_ms, 0.1);
  EXPECT_DOUBLE_EQ(s.devices[2].profile.link_latency_ms, 0.5);
  EXPECT_DOUBLE_EQ(s.devices[2].profile.link_bandwidth_mbps, 100);
  EXPECT_EQ(s.workload.prompts.size(), 2u);
  EXPECT_EQ(s.workload.requests, 6);
  EXPECT_EQ(s.workload.concurrency, 2);
  EXPECT_EQ(s.workload.max_tokens, 16);
  EXPECT_EQ(s.workload.wire, "f16+zstd");
  EXPECT_EQ(s.workload.context, 128);
}

TEST(ClusterFile, DefaultsForAMinimalFile) {
  const ClusterSpec s = parse_cluster_file("[[devices]]\nprofile = \"pc\"\n[workload]\nprompt_file = \"p.txt\"\n",
                                           "lan.toml", catalog());
  EXPECT_EQ(s.strategy, Strategy::Memory);
  EXPECT_EQ(s.workload.requests, 4);
  EXPECT_EQ(s.workload.concurrency, 1);
  EXPECT_EQ(s.workload.max_tokens, 32);
  EXPECT_EQ(s.workload.wire, "int8+zstd");
  EXPECT_EQ(*s.workload.prompt_file, "p.txt");
  EXPECT_DOUBLE_EQ(s.devices[0].profile.link_latency_ms, 0.2);  // from the profile
  EXPECT_DOUBLE_EQ(s.devices[0].jitter_ms, 0);
}

TEST(ClusterFile, UnknownProfileListsTheKnownOnes) {
  EXPECT_EQ(error_of(edited("profile = \"pc\"", "profile = \"fone\"")),
            "home.toml: devices[2].profile: no device profile 'fone' in configs/devices (have: pc, phone, tablet)");
}

TEST(ClusterFile, MistakesNameFileKeyAndExpectation) {
  struct Case {
    std::string from, to, expected;
  };
  const std::vector<Case> cases = {
      {"strategy = \"latency\"", "strategy = \"fastest\"", "home.toml: strategy: expected memory or latency, found \"fastest\""},
      {"memory_mib = 2048", "memory_mib = -5", "home.toml: devices[0].memory_mib: expected an integer in [1,"},
      {"memory_mib = 2048", "memory_mib = 2048.5", "home.toml: devices[0].memory_mib: expected an integer, found 2048.5"},
      {"compute_gflops = 123.5", "compute_gflops = \"fast\"",
       "home.toml: devices[2].compute_gflops: expected a number, found string \"fast\""},
      {"compute_gflops = 123.5", "compute_gflops = 0", "home.toml: devices[2].compute_gflops: expected a number > 0"},
      {"link_jitter_ms = 1", "link_jitter_ms = 9",
       "home.toml: devices[0].link_jitter_ms: expected at most the link latency of device 'phone' (4 ms), found 9 ms"},
      {"jitter_ms = 0.1", "jitter_ms = 1.0", "home.toml: link.jitter_ms: expected at most the link latency of device 'desk'"},
      {"[link]", "[link]\nlatency = 3", "home.toml: link.latency: unknown key (known here: latency_ms, jitter_ms, bandwidth_mbps)"},
      {"name = \"desk\"", "name = \"my desk\"", "home.toml: devices[2].name: expected 1-64 letters"},
      {"name = \"desk\"", "name = \"phone-2\"", "home.toml: devices[2].name: 'phone-2' names two devices"},
      {"profile = \"pc\"", "colour = \"red\"", "home.toml: devices[2].colour: unknown key (known here: profile, name,"},
      {"requests = 6", "requests = 0", "home.toml: workload.requests: expected an integer in [1, 10000], found 0"},
      {"concurrency = 2", "concurrency = 7", "home.toml: workload.concurrency: expected at most requests (6), found 7"},
      {"max_tokens = 16", "max_tokens = \"16\"", "home.toml: workload.max_tokens: expected an integer, found string \"16\""},
      {"wire = \"f16+zstd\"", "wire = \"gzip\"", "home.toml: workload.wire: expected f32, f16 or int8, each optionally +zstd"},
      {"prompts = [\"In the beginning\", \"You will be\"]", "prompts = []",
       "home.toml: workload.prompts: expected a non-empty array of strings"},
      {"prompts = [\"In the beginning\", \"You will be\"]", "prompts = [\"a\", 3]",
       "home.toml: workload.prompts[1]: expected a non-empty string, found 3"},
      {"prompts = [\"In the beginning\", \"You will be\"]", "prompt_file = \"\"",
       "home.toml: workload.prompt_file: expected a file name"},
      {"seed = 9", "seed = 9\nfleet = 3", "home.toml: fleet: unknown key"},
      {"seed = 9", "seed = 9\n[model]\nsynth = \"huge\"", "home.toml: model.synth: expected tiny, small, 110m or 7b, found \"huge\""},
      {"seed = 9", "seed = 9\n[model]\npath = \"a.gguf\"\nsynth = \"tiny\"", "home.toml: model: give either path or synth"},
      {"seed = 9", "seed = 9\n[model]\npath = \"a.gguf\"\ndtype = \"q8_0\"", "home.toml: model.dtype: only applies to"},
      {"seed = 9", "seed = 9\nmodel = 3", "home.toml: model: expected a table ([model]), found 3"},
  };
  for (const Case& c : cases) {
    const std::string e = error_of(edited(c.from, c.to));
    EXPECT_EQ(e.rfind(c.expected, 0), 0u) << "got: " << e << "\nexpected to start with: " << c.expected;
  }
}

TEST(ClusterFile, MissingSectionsAreNamed) {
  EXPECT_EQ(error_of("[workload]\nprompts = [\"x\"]\n"),
            "home.toml: devices: missing (expected [[devices]] entries with a profile)");
  EXPECT_EQ(error_of("[[devices]]\nprofile = \"pc\"\n"), "home.toml: workload: missing (expected a [workload] table with prompts)");
  EXPECT_EQ(error_of("[[devices]]\nname = \"x\"\n[workload]\nprompts = [\"x\"]\n"),
            "home.toml: devices[0].profile: missing (expected one of pc, phone, tablet)");
  EXPECT_EQ(error_of("[[devices]]\nprofile = \"pc\"\n[workload]\nrequests = 2\n"),
            "home.toml: workload: missing prompts (an array of strings) or prompt_file");
  EXPECT_EQ(error_of("devices = []\n[workload]\nprompts = [\"x\"]\n"), "home.toml: devices: expected [[devices]] tables, found an array");
}

TEST(ClusterFile, SyntaxErrorsCarryTheLine) {
  const std::string e = error_of("[[devices]]\nprofile = \"pc\n");
  EXPECT_EQ(e.rfind("home.toml:2:", 0), 0u) << e;
  EXPECT_NE(e.find("TOML syntax error"), std::string::npos) << e;
}

TEST(ClusterFile, TooManyDevicesAndTooLargeFiles) {
  std::string many;
  for (int i = 0; i < 17; ++i) many += "[[devices]]\nprofile = \"pc\"\n";
  EXPECT_EQ(error_of(many + "[workload]\nprompts = [\"x\"]\n"), "home.toml: devices: expected at most 16 devices, found 17");
  EXPECT_NE(error_of(std::string(kMaxClusterFileBytes + 1, '#')).find("too large"), std::string::npos);
}

TEST(ClusterFile, PromptLines) {
  EXPECT_EQ(parse_prompt_lines("# comment\nfirst\n\n  \nsecond\r\n", "p.txt"),
            (std::vector<std::string>{"first", "second"}));
  EXPECT_THROW(parse_prompt_lines("# only a comment\n\n", "p.txt"), ClusterFileError);
}

TEST(ClusterFile, ShippedFilesParse) {
  const std::filesystem::path root(BATON_SOURCE_DIR);
  const ProfileCatalog shipped = load_profile_catalog((root / "configs" / "devices").string());
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root / "configs" / "clusters")) {
    if (entry.path().extension() != ".toml") continue;
    ++files;
    const ClusterSpec s = load_cluster_file(entry.path().string(), shipped);
    EXPECT_FALSE(s.devices.empty()) << entry.path();
    EXPECT_FALSE(s.workload.prompts.empty()) << entry.path();
  }
  EXPECT_GE(files, 3);
  const ClusterSpec phones = load_cluster_file((root / "configs" / "clusters" / "phones.toml").string(), shipped);
  EXPECT_EQ(phones.devices.size(), 4u);
  const ClusterSpec lan = load_cluster_file((root / "configs" / "clusters" / "lan.toml").string(), shipped);
  EXPECT_EQ(lan.devices.size(), 2u);
}

}  // namespace
}  // namespace baton::sim
