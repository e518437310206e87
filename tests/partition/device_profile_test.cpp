// Device profiles: valid files parse, every mistake is named by file and field, and every
// profile shipped in configs/devices/ parses.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "partition/device_profile.h"

namespace baton {
namespace {

const std::string kLabel = "configs/devices/phone.toml";

const std::string kValid = R"(# a phone
id = "phone"
kind = "phone"
description = "8 GB phone"
memory_mib = 3072
compute_gflops = 40.5
memory_bandwidth_gbs = 25
link_latency_ms = 4
link_bandwidth_mbps = 300
)";

std::string error_of(const std::string& text, const std::string& label = kLabel) {
  try {
    parse_device_profile(text, label);
  } catch (const DeviceProfileError& e) {
    return e.what();
  }
  return "<no error>";
}

// kValid with the line starting with `key =` replaced by `replacement` (or removed).
std::string with_line(const std::string& key, const std::string& replacement) {
  std::istringstream in(kValid);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.rfind(key + " =", 0) == 0) {
      if (!replacement.empty()) out += replacement + "\n";
    } else {
      out += line + "\n";
    }
  }
  return out;
}

TEST(PartitionDeviceProfile, ParsesAValidProfile) {
  const DeviceProfile d = parse_device_profile(kValid, kLabel);
  EXPECT_EQ(d.id, "phone");
  EXPECT_EQ(d.kind, "phone");
  EXPECT_EQ(d.memory_mib, 3072);
  EXPECT_DOUBLE_EQ(d.compute_gflops, 40.5);
  EXPECT_DOUBLE_EQ(d.memory_bandwidth_gbs, 25.0);  // integers are accepted for numbers
  EXPECT_DOUBLE_EQ(d.link_latency_ms, 4.0);
  EXPECT_DOUBLE_EQ(d.link_bandwidth_mbps, 300.0);
  EXPECT_EQ(validate_device_profile(d, kLabel), "");
}

TEST(PartitionDeviceProfile, NegativeMemoryNamesFileAndField) {
  EXPECT_EQ(error_of(with_line("memory_mib", "memory_mib = -5")),
            "configs/devices/phone.toml: field 'memory_mib': expected a positive integer, found -5");
  EXPECT_EQ(error_of(with_line("memory_mib", "memory_mib = 0")),
            "configs/devices/phone.toml: field 'memory_mib': expected a positive integer, found 0");
}

TEST(PartitionDeviceProfile, EveryMissingFieldIsNamed) {
  for (const std::string field : {"id", "kind", "memory_mib", "compute_gflops", "memory_bandwidth_gbs",
                                  "link_latency_ms", "link_bandwidth_mbps"}) {
    const std::string error = error_of(with_line(field, ""));
    EXPECT_EQ(error.rfind(kLabel + ": field '" + field + "': missing", 0), 0u) << error;
  }
  // description is optional
  EXPECT_NO_THROW(parse_device_profile(with_line("description", ""), kLabel));
}

TEST(PartitionDeviceProfile, UnknownKeyIsNamed) {
  const std::string error = error_of(kValid + "memroy_mib = 4096\n");
  EXPECT_EQ(error.rfind(kLabel + ": unknown field 'memroy_mib'", 0), 0u) << error;
  const std::string table = error_of(kValid + "[extra]\nx = 1\n");
  EXPECT_NE(table.find("unknown field 'extra'"), std::string::npos) << table;
}

TEST(PartitionDeviceProfile, WrongTypesAreNamed) {
  EXPECT_EQ(error_of(with_line("memory_mib", "memory_mib = \"lots\"")),
            kLabel + ": field 'memory_mib': expected a positive integer, found string \"lots\"");
  EXPECT_EQ(error_of(with_line("memory_mib", "memory_mib = 3.5")),
            kLabel + ": field 'memory_mib': expected a positive integer, found 3.5");
  EXPECT_EQ(error_of(with_line("compute_gflops", "compute_gflops = true")),
            kLabel + ": field 'compute_gflops': expected a positive number, found true");
  EXPECT_EQ(error_of(with_line("id", "id = 7")), kLabel + ": field 'id': expected a string, found 7");
  EXPECT_EQ(error_of(with_line("kind", "kind = [\"phone\"]")),
            kLabel + ": field 'kind': expected a string, found an array");
  EXPECT_EQ(error_of(with_line("description", "description = 1")),
            kLabel + ": field 'description': expected a string, found 1");
}

TEST(PartitionDeviceProfile, OutOfRangeValuesAreNamed) {
  EXPECT_EQ(error_of(with_line("compute_gflops", "compute_gflops = 0.0")),
            kLabel + ": field 'compute_gflops': expected a positive number, found 0");
  EXPECT_EQ(error_of(with_line("memory_bandwidth_gbs", "memory_bandwidth_gbs = nan")),
            kLabel + ": field 'memory_bandwidth_gbs': expected a positive number, found nan");
  EXPECT_EQ(error_of(with_line("link_latency_ms", "link_latency_ms = -1")),
            kLabel + ": field 'link_latency_ms': expected a number >= 0, found -1");
  EXPECT_NO_THROW(parse_device_profile(with_line("link_latency_ms", "link_latency_ms = 0"), kLabel));
  EXPECT_NE(error_of(with_line("link_bandwidth_mbps", "link_bandwidth_mbps = inf")).find("field 'link_bandwidth_mbps'"),
            std::string::npos);
  EXPECT_NE(error_of(with_line("memory_mib", "memory_mib = 99999999999")).find("no larger than"), std::string::npos);
  EXPECT_EQ(error_of(with_line("kind", "kind = \"toaster\"")),
            kLabel + ": field 'kind': expected one of phone, tablet, laptop, pc, sbc, server, other, found \"toaster\"");
  EXPECT_NE(error_of(with_line("id", "id = \"\"")).find("field 'id': expected a non-empty string"), std::string::npos);
  // Ids are names people give devices: any printable UTF-8, but no control characters.
  EXPECT_NE(error_of(with_line("id", "id = \"my\\u0007phone\"")).find("field 'id': expected printable UTF-8"),
            std::string::npos);
  EXPECT_EQ(parse_device_profile(with_line("id", "id = \"Bob's phone \u00e9\""), kLabel).id, "Bob's phone \xC3\xA9");
}

TEST(PartitionDeviceProfile, SyntaxErrorsNameFileAndLine) {
  const std::string error = error_of("id = \"phone\"\nmemory_mib = = 3\n");
  EXPECT_EQ(error.rfind(kLabel + ":2:", 0), 0u) << error;
  EXPECT_NE(error.find("TOML syntax error"), std::string::npos) << error;
}

TEST(PartitionDeviceProfile, OversizedTextIsRefused) {
  const std::string huge = kValid + "# " + std::string(kMaxDeviceProfileBytes, 'x') + "\n";
  EXPECT_NE(error_of(huge).find("too large"), std::string::npos);
}

TEST(PartitionDeviceProfile, ValidateCatchesCodeBuiltProfiles) {
  DeviceProfile d{"peer-1", "phone", 2048, 30, 20, 5, 200};
  EXPECT_EQ(validate_device_profile(d, "discovery"), "");
  d.link_bandwidth_mbps = 0;
  EXPECT_EQ(validate_device_profile(d, "discovery"),
            "discovery: field 'link_bandwidth_mbps': expected a positive number, found 0");
}

TEST(PartitionDeviceProfile, EveryShippedProfileParses) {
  const std::filesystem::path dir = std::filesystem::path(BATON_SOURCE_DIR) / "configs" / "devices";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  std::set<std::string> stems;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".toml") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    SCOPED_TRACE(entry.path().string());
    const DeviceProfile d = parse_device_profile(text.str(), entry.path().string());
    EXPECT_EQ(d.id, entry.path().stem().string()) << "the id should match the file name";
    stems.insert(d.id);
  }
  for (const std::string expected : {"phone", "tablet", "pc", "laptop", "raspberry-pi"}) {
    EXPECT_TRUE(stems.count(expected)) << "missing configs/devices/" << expected << ".toml";
  }
}

}  // namespace
}  // namespace baton
