#include <gtest/gtest.h>

#include "discovery/static_peers.h"

namespace baton::discovery {
namespace {

TEST(StaticPeers, ParsesHostsAddressesAndIpv6) {
  auto r = parse_static_peers("pc.local:7000, 192.168.1.20:7001,[fe80::1]:7002,pc.local:7000");
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.peers.size(), 3u);  // duplicate dropped
  EXPECT_EQ(r.peers[0], (StaticPeer{"pc.local", 7000}));
  EXPECT_EQ(r.peers[1], (StaticPeer{"192.168.1.20", 7001}));
  EXPECT_EQ(r.peers[2], (StaticPeer{"fe80::1", 7002}));
  EXPECT_TRUE(parse_static_peers("").peers.empty());
  EXPECT_EQ(parse_static_peers("").error, "");
}

TEST(StaticPeers, RejectsMalformedEntriesNamingThem) {
  for (const char* bad : {"pc.local", "pc.local:", "pc.local:0", "pc.local:70000", "pc.local:7x", "a:1,,b:2",
                          "fe80::1:7000", "[fe80::1]7000", "pc local:7000", ":7000"}) {
    auto r = parse_static_peers(bad);
    EXPECT_NE(r.error, "") << bad;
    EXPECT_TRUE(r.peers.empty() || r.error != "") << bad;
  }
  EXPECT_NE(parse_static_peers("ok:1,bad").error.find("bad"), std::string::npos);
}

}  // namespace
}  // namespace baton::discovery
