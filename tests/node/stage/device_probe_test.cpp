// Usable memory and device kind from a fake /proc and /sys (the readers take a root).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "node/stage/device_offer.h"
#include "node/stage/device_probe.h"

namespace baton {
namespace {

namespace fs = std::filesystem;

class FakeRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("baton-probe-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text;
  }
  fs::path root_;
};

constexpr const char* kMeminfo = "MemTotal:       16314412 kB\nMemFree:         1023400 kB\nMemAvailable:    6291456 kB\n";

TEST(MemoryFacts, Parsing) {
  EXPECT_EQ(parse_mem_available(kMeminfo), 6291456ull * 1024);
  EXPECT_FALSE(parse_mem_available("MemTotal: 100 kB\n"));
  EXPECT_FALSE(parse_mem_available("MemAvailable: lots kB\n"));
  EXPECT_EQ(parse_cgroup_limit("1073741824\n"), 1073741824ull);
  EXPECT_FALSE(parse_cgroup_limit("max\n"));
  EXPECT_FALSE(parse_cgroup_limit("9223372036854771712\n")) << "cgroup v1's unlimited";
  EXPECT_FALSE(parse_cgroup_limit("12ab"));
  EXPECT_EQ(cgroup_path("0::/user.slice/app.scope\n", true), "/user.slice/app.scope");
  EXPECT_EQ(cgroup_path("12:cpu,cpuacct:/a\n9:memory:/docker/abc\n", false), "/docker/abc");
  EXPECT_FALSE(cgroup_path("12:cpu:/a\n", false));
}

TEST(MemoryFacts, UsableIsTheTighterOfMemAvailableAndTheCgroupMinusTheReserve) {
  MemoryFacts f;
  EXPECT_EQ(usable_memory_mib(f, 1024), 0u) << "nothing known";
  f.available_bytes = 6144ull << 20;
  EXPECT_EQ(usable_memory_mib(f, 1024), 5120u);
  f.cgroup_limit_bytes = 4096ull << 20;
  f.cgroup_usage_bytes = 1024ull << 20;
  EXPECT_EQ(usable_memory_mib(f, 1024), 2048u) << "3 GiB of cgroup headroom, minus 1 GiB";
  f.cgroup_usage_bytes = 8192ull << 20;
  EXPECT_EQ(usable_memory_mib(f, 1024), 1u) << "over its limit: the smallest offer, never a wrap-around";
}

TEST_F(FakeRoot, CgroupV2LimitsAtAnyLevelCount) {
  write("proc/meminfo", kMeminfo);  // 6 GiB available
  write("proc/self/cgroup", "0::/user.slice/phone.scope\n");
  write("sys/fs/cgroup/user.slice/memory.max", "3221225472\n");  // 3 GiB
  write("sys/fs/cgroup/user.slice/memory.current", "1073741824\n");
  write("sys/fs/cgroup/user.slice/phone.scope/memory.max", "max\n");
  write("sys/fs/cgroup/user.slice/phone.scope/memory.current", "5000\n");
  const MemoryFacts f = read_memory_facts(root_);
  ASSERT_TRUE(f.cgroup_limit_bytes);
  EXPECT_EQ(*f.cgroup_limit_bytes, 3221225472ull);
  EXPECT_EQ(usable_memory_mib(f, 1024), 1024u);
  EXPECT_NE(f.limit_source.find("user.slice"), std::string::npos) << f.limit_source;
}

TEST_F(FakeRoot, CgroupV1MemoryController) {
  write("proc/meminfo", kMeminfo);
  write("proc/self/cgroup", "4:memory:/docker/abc\n1:name=systemd:/\n");
  write("sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "2147483648\n");
  write("sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes", "0\n");
  EXPECT_EQ(usable_memory_mib(read_memory_facts(root_), 512), 1536u);
}

TEST_F(FakeRoot, KindFromTheDmiChassis) {
  EXPECT_FALSE(detect_kind(root_)) << "nothing to tell";
  write("sys/class/dmi/id/chassis_type", "10\n");
  auto k = detect_kind(root_);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, "laptop");
  EXPECT_NE(k->source.find("chassis type 10"), std::string::npos);
  write("sys/class/dmi/id/chassis_type", "1\n");
  EXPECT_FALSE(detect_kind(root_)) << "'other' (virtual machines) says nothing";
  EXPECT_EQ(kind_for_chassis(3), "pc");
  EXPECT_EQ(kind_for_chassis(30), "tablet");
}

TEST_F(FakeRoot, KindFromAndroidProperties) {
  write("system/bin/getprop", "#!/bin/sh\n[ \"$1\" = ro.build.characteristics ] && echo tablet\n");
  fs::permissions(root_ / "system/bin/getprop", fs::perms::owner_all);
  auto k = detect_kind(root_);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, "tablet");
  write("system/bin/getprop", "#!/bin/sh\necho default\n");
  EXPECT_EQ(detect_kind(root_)->kind, "phone");
}

TEST_F(FakeRoot, TheOfferSaysWhatWasDetectedAndWhatWasTyped) {
  write("proc/meminfo", kMeminfo);
  write("sys/class/dmi/id/chassis_type", "9\n");
  OfferOverrides in;
  in.root = root_.string();
  in.cache_dir = (root_ / "cache").string();
  in.gflops = 12.5;
  in.bandwidth_gbs = 8;  // both typed: no calibration
  const DeviceOffer o = measure_offer(in);
  EXPECT_EQ(o.memory_mib, 5120u);
  EXPECT_EQ(o.kind, "laptop");
  EXPECT_EQ(o.detected, "mem,kind");
  EXPECT_EQ(o.gflops, 12.5);
  EXPECT_EQ(o.calibration_ms, 0);
  in.memory_mib = 0;
  in.kind = "phone";
  const DeviceOffer typed = measure_offer(in);
  EXPECT_EQ(typed.memory_mib, 0u) << "--memory 0: no limit, as typed";
  EXPECT_EQ(typed.detected, "");
}

TEST_F(FakeRoot, CalibrationIsMeasuredOnceThenCached) {
  OfferOverrides in;
  in.root = root_.string();
  in.cache_dir = (root_ / "cache").string();
  in.threads = 1;
  const DeviceOffer first = measure_offer(in);
  EXPECT_GT(first.gflops, 0);
  EXPECT_GT(first.bandwidth_gbs, 0);
  EXPECT_GT(first.calibration_ms, 0);
  EXPECT_EQ(first.detected, "gflops,bw");
  const DeviceOffer again = measure_offer(in);
  EXPECT_EQ(again.gflops, first.gflops) << "read from the cache";
  EXPECT_EQ(again.calibration_ms, 0);
  ASSERT_TRUE(fs::exists(root_ / "cache" / "device-calibration.json"));
}

}  // namespace
}  // namespace baton
