// A node's --listen and the interface mDNS announces: the advertised address must be one
// the node serves.
#include <gtest/gtest.h>

#include "node/stage/announce.h"

namespace baton {
namespace {

TEST(ListenAddress, WildcardsMeanEveryInterface) {
  for (const char* text : {"*:7100", "0.0.0.0:7100", "[::]:7100", ":7100", "7100"}) {
    const ListenAddress a = parse_listen_address(text);
    EXPECT_TRUE(a.every_interface()) << text;
    EXPECT_EQ(a.port, 7100) << text;
    EXPECT_EQ(a.for_kj(), "*:7100") << text;
  }
}

TEST(ListenAddress, OneAddress) {
  ListenAddress a = parse_listen_address("127.0.0.1:0");
  EXPECT_FALSE(a.every_interface());
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.for_kj(), "127.0.0.1:0");
  a = parse_listen_address("[::1]:7101");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.for_kj(), "[::1]:7101");
}

TEST(ListenAddress, MistakesAreNamed) {
  for (const char* text : {"127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:x", "phone.local:7100", "1.2.3:7100"}) {
    try {
      parse_listen_address(text);
      ADD_FAILURE() << text << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("--listen"), std::string::npos) << e.what();
    }
  }
}

TEST(ListenAddress, AnnouncesWhatItServes) {
  // Every interface: mDNS picks (or is told) the interface.
  EXPECT_EQ(announce_interface_for(parse_listen_address("*:7100"), ""), "");
  EXPECT_EQ(announce_interface_for(parse_listen_address("*:7100"), "lo"), "lo");
  // One address: announce that one (loopback stays on loopback).
  EXPECT_EQ(announce_interface_for(parse_listen_address("127.0.0.1:7100"), ""), "127.0.0.1");
  EXPECT_EQ(announce_interface_for(parse_listen_address("127.0.0.1:7100"), "lo"), "lo");
  // IPv6-only listening cannot be announced with an A record.
  EXPECT_THROW(announce_interface_for(parse_listen_address("[::1]:7100"), ""), std::invalid_argument);
}

}  // namespace
}  // namespace baton
