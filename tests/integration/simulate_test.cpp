// `baton simulate`: real node processes shaped and paced like the devices of a cluster file.
// A short run of home.toml reports a plan over every layer with measured figures for every
// device; a cluster too small for the model fails with the planner's reason; 20 ms links
// make decoding slower than 0 ms links (direction only, no time bounds).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tools/child_process.h"

namespace baton {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kRoot = BATON_SOURCE_DIR;
const std::string kDevices = kRoot + "/configs/devices";

std::string temp_dir(const std::string& name) {
  auto dir = fs::path(BATON_BINARY_DIR) / "test-tmp" / (name + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

RunResult simulate(std::vector<std::string> args) {
  std::vector<std::string> argv{BATON_EXECUTABLE, "simulate", "--quiet", "--devices", kDevices};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, std::chrono::seconds(90));
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

void write(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

std::string two_pcs(double latency_ms) {
  return "strategy = \"memory\"\n[link]\nlatency_ms = " + std::to_string(latency_ms) +
         "\n[[devices]]\nprofile = \"pc\"\nname = \"a\"\n[[devices]]\nprofile = \"pc\"\nname = \"b\"\n"
         "[workload]\nprompts = [\"In the beginning\"]\nrequests = 1\nmax_tokens = 6\n";
}

TEST(Simulate, HomeReportCoversEveryLayerWithMeasuredFigures) {
  const std::string out = temp_dir("simulate-home");
  const RunResult r = simulate({kRoot + "/configs/clusters/home.toml", "--requests", "1", "--max-tokens", "8", "--out", out});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Plan and memory"), std::string::npos) << r.out;
  const json report = read_json(out + "/report.json");
  const int layers = report["layers"].get<int>();
  ASSERT_GT(layers, 0);
  const json& stages = report["stages"];
  ASSERT_EQ(stages.size(), 3u) << report.dump(2);  // phone, tablet, pc all hold layers
  int next = 0;
  std::set<std::string> devices;
  for (const json& s : stages) {
    EXPECT_EQ(s["first"].get<int>(), next) << s.dump();
    EXPECT_GT(s["last"].get<int>(), s["first"].get<int>()) << s.dump();
    next = s["last"].get<int>();
    devices.insert(s["device"].get<std::string>());
    EXPECT_GT(s["predicted"]["compute_ms"].get<double>(), 0) << s.dump();
    EXPECT_GT(s["predicted"]["hop_in_ms"].get<double>(), 0) << s.dump();
    ASSERT_TRUE(s["measured"]["compute_ms"].is_number()) << s.dump();
    EXPECT_GT(s["measured"]["compute_ms"].get<double>(), 0) << s.dump();
    ASSERT_TRUE(s["measured"]["hop_in_ms"].is_number()) << s.dump();
    ASSERT_TRUE(s["memory"]["used_mib"].is_number()) << s.dump();
    EXPECT_LE(s["memory"]["used_mib"].get<double>(), s["memory"]["cap_mib"].get<double>()) << s.dump();
    ASSERT_TRUE(s["memory"]["peak_rss_mib"].is_number()) << s.dump();
    EXPECT_GT(s["memory"]["peak_rss_mib"].get<double>(), 0) << s.dump();
  }
  EXPECT_EQ(next, layers);
  EXPECT_EQ(devices, (std::set<std::string>{"phone", "tablet", "pc"}));
  EXPECT_GT(report["predicted"]["tokens_per_s"].get<double>(), 0);
  EXPECT_GT(report["measured"]["tokens_per_s"].get<double>(), 0);
  EXPECT_GT(report["measured"]["ttft_ms"].get<double>(), 0);
  // The coordinator's own admission-to-first-token time is part of what the client waited.
  const double coordinator_ttft = report["measured"]["coordinator_ttft_ms"].get<double>();
  EXPECT_GT(coordinator_ttft, 0);
  EXPECT_LE(coordinator_ttft, report["measured"]["ttft_ms"].get<double>());
  ASSERT_EQ(report["requests"].size(), 1u);
  EXPECT_GT(report["requests"][0]["completion_tokens"].get<int>(), 0);
  // The timeline is drawn from the tokens as they travelled (the coordinator's trace).
  const json& trace = report["trace"];
  ASSERT_FALSE(trace.empty());
  for (const auto& token : trace) ASSERT_EQ(token["stages"].size(), stages.size()) << token;
  for (const char* svg : {"/timeline.svg", "/bars.svg"}) {
    std::ifstream in(out + svg);
    std::string first;
    std::getline(in, first);
    EXPECT_EQ(first.rfind("<svg", 0), 0u) << svg;
  }
  std::ifstream timeline(out + "/timeline.svg");
  const std::string picture((std::istreambuf_iterator<char>(timeline)), std::istreambuf_iterator<char>());
  EXPECT_NE(picture.find("measured, token by token"), std::string::npos);
}

TEST(Simulate, ClusterTooSmallForTheModelFailsWithThePlannersReason) {
  const std::string dir = temp_dir("simulate-small");
  write(dir + "/tiny.toml",
        "[[devices]]\nprofile = \"phone\"\nmemory_mib = 1\n[[devices]]\nprofile = \"tablet\"\nmemory_mib = 1\n"
        "[workload]\nprompts = [\"In the beginning\"]\nrequests = 1\nmax_tokens = 4\n");
  const RunResult r = simulate({dir + "/tiny.toml"});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("no plan fits cluster tiny.toml"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("device 'phone' needs"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("but can use 0.9 MiB: short by"), std::string::npos) << r.err;  // 1 MiB less the 5 % margin
}

TEST(Simulate, BadClusterFileIsRefusedNamingTheKey) {
  const std::string dir = temp_dir("simulate-bad");
  write(dir + "/bad.toml", "[[devices]]\nprofile = \"fone\"\n[workload]\nprompts = [\"x\"]\n");
  const RunResult r = simulate({dir + "/bad.toml"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("bad.toml: devices[0].profile: no device profile 'fone' in"), std::string::npos) << r.err;
}

TEST(Simulate, LinkLatencyLowersTokensPerSecond) {
  const std::string dir = temp_dir("simulate-latency");
  write(dir + "/fast.toml", two_pcs(0));
  write(dir + "/slow.toml", two_pcs(20));
  const RunResult fast = simulate({dir + "/fast.toml", "--json"});
  ASSERT_EQ(fast.code, 0) << fast.err;
  const RunResult slow = simulate({dir + "/slow.toml", "--json"});
  ASSERT_EQ(slow.code, 0) << slow.err;
  const json f = json::parse(fast.out), sl = json::parse(slow.out);
  EXPECT_GT(f["measured"]["tokens_per_s"].get<double>(), 0);
  // The prediction is pure arithmetic: slower links, fewer tokens per second.
  EXPECT_LT(sl["predicted"]["tokens_per_s"].get<double>(), f["predicted"]["tokens_per_s"].get<double>());
  // A token crosses four 20 ms link attachments (coordinator -> a, a -> b twice, b ->
  // coordinator): the measured time cannot be shorter, however loaded the machine is (a
  // lower bound only; 5 ms of slack for timer granularity). No upper bound on time.
  EXPECT_GE(sl["measured"]["ms_per_token"].get<double>(), 75.0) << sl["measured"].dump();
}

}  // namespace
}  // namespace baton
