// Interop with Avahi: `avahi-browse -rpt _baton._tcp` lists and resolves a running
// announcer. avahi-daemon needs a system D-Bus and a multicast interface that is not
// loopback, so avahi_interop.sh builds both inside private mount and network namespaces
// (needs root, as CI has). Where that is impossible the test is skipped with the reason;
// it never passes without avahi having seen the node.
#include <gtest/gtest.h>
#include <unistd.h>

#include <sstream>

#include "test_support.h"

namespace baton::discovery {
namespace {

using namespace std::chrono_literals;
using testing::have_program;
using testing::run_command;
using testing::unique_name;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

TEST(AvahiInterop, AvahiBrowseResolvesTheNode) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create mount and network namespaces for avahi-daemon";
  for (const char* program : {"unshare", "ip", "dbus-daemon", "avahi-daemon", "avahi-browse"})
    if (!have_program(program))
      GTEST_SKIP() << program << " is not installed (Debian packages: avahi-daemon avahi-utils dbus iproute2)";

  const std::string name = unique_name("avahi node");
  auto result = run_command({"unshare", "--mount", "--net", BATON_SOURCE_DIR "/tests/discovery/avahi_interop.sh",
                             BATON_MDNS_ANNOUNCER, name, "7601"},
                            90s);
  if (result.exit_code == 77) GTEST_SKIP() << "avahi cannot run here: " << result.output;
  ASSERT_EQ(result.exit_code, 0) << result.output;

  // Resolved lines: =;iface;IPv4;name;type;domain;host;address;port;"txt" "txt" ...
  std::string escaped;
  for (char c : name) escaped += c == ' ' ? std::string("\\032") : std::string(1, c);
  bool found = false;
  for (const auto& line : split(result.output, '\n')) {
    auto f = split(line, ';');
    if (f.size() < 10 || f[0] != "=" || f[3] != escaped) continue;
    found = true;
    EXPECT_EQ(f[4], "_baton._tcp");
    EXPECT_EQ(f[7], "10.77.0.1");
    EXPECT_EQ(f[8], "7601");
    for (const char* kv : {"\"txtvers=1\"", "\"proto=1\"", "\"id=avahi-id\"", "\"kind=pc\"", "\"mem=512\"", "\"role=node\""})
      EXPECT_NE(f[9].find(kv), std::string::npos) << kv << " missing in " << f[9];
  }
  EXPECT_TRUE(found) << "avahi-browse did not resolve '" << name << "':\n" << result.output;
}

}  // namespace
}  // namespace baton::discovery
