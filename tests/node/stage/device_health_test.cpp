// Heat and battery read from a fake sysfs tree.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "node/stage/device_health.h"

namespace baton {
namespace {

namespace fs = std::filesystem;

class FakeSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("baton-sysfs-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text << "\n";
  }
  fs::path root_;
};

TEST_F(FakeSysfs, ReadsTheHottestZoneThrottlingAndBattery) {
  EXPECT_EQ(read_health(root_), HealthReading{}) << "nothing there: nothing known";
  write("sys/class/thermal/thermal_zone0/temp", "41000");
  write("sys/class/thermal/thermal_zone1/temp", "67500");
  write("sys/class/thermal/thermal_zone1/trip_point_0_type", "passive");
  write("sys/class/thermal/thermal_zone1/trip_point_0_temp", "90000");
  write("sys/class/thermal/thermal_zone2/temp", "-273000");  // a broken sensor
  write("sys/class/thermal/cooling_device0/type", "Processor");
  write("sys/class/thermal/cooling_device0/cur_state", "0");
  write("sys/class/power_supply/BAT0/type", "Battery");
  write("sys/class/power_supply/BAT0/capacity", "54");
  write("sys/class/power_supply/BAT0/status", "Discharging");
  write("sys/class/power_supply/AC/type", "Mains");
  write("sys/class/power_supply/AC/online", "0");
  HealthReading r = read_health(root_);
  ASSERT_TRUE(r.temperature_c);
  EXPECT_DOUBLE_EQ(*r.temperature_c, 67.5);
  EXPECT_FALSE(r.throttled);
  EXPECT_EQ(r.battery_percent, 54);
  EXPECT_FALSE(r.charging);

  write("sys/class/thermal/thermal_zone1/temp", "91000");
  write("sys/class/power_supply/AC/online", "1");
  r = read_health(root_);
  EXPECT_TRUE(r.throttled) << "past the passive trip point";
  EXPECT_TRUE(r.charging);
  write("sys/class/thermal/thermal_zone1/temp", "50000");
  write("sys/class/thermal/cooling_device0/cur_state", "3");
  EXPECT_TRUE(read_health(root_).throttled) << "the CPU cooling device is active";
}

}  // namespace
}  // namespace baton
