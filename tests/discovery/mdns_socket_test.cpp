// Interface choice and the on-link filter (RFC 6762 §11) that runs before any parsing.
#include <gtest/gtest.h>

#include "discovery/mdns_socket.h"
#include "test_support.h"

namespace baton::discovery {
namespace {

using asio::ip::make_address_v4;
using asio::ip::udp;

Ipv4Interface make_if(const char* name, unsigned index, const char* address, const char* mask, bool loopback,
                      bool multicast, bool up = true) {
  Ipv4Interface i;
  i.name = name;
  i.index = index;
  i.address = make_address_v4(address);
  i.netmask = make_address_v4(mask);
  i.loopback = loopback;
  i.multicast = multicast;
  i.up = up;
  return i;
}

const std::vector<Ipv4Interface> kInterfaces = {
    make_if("lo", 1, "127.0.0.1", "255.0.0.0", true, false),
    make_if("docker0", 3, "172.17.0.1", "255.255.0.0", false, true, false),
    make_if("wlan0", 2, "192.168.1.20", "255.255.255.0", false, true),
    make_if("tun0", 4, "10.8.0.2", "255.255.255.255", false, false),
};

TEST(ChooseInterface, AutomaticPicksFirstUpMulticastNonLoopback) {
  std::string error;
  auto i = choose_interface(kInterfaces, "", error);
  ASSERT_TRUE(i) << error;
  EXPECT_EQ(i->name, "wlan0");
  // With no LAN at all, loopback: processes on one machine still find each other.
  auto lo_only = choose_interface({kInterfaces[0]}, "", error);
  ASSERT_TRUE(lo_only);
  EXPECT_EQ(lo_only->name, "lo");
}

TEST(ChooseInterface, ByNameOrAddressWithClearErrors) {
  std::string error;
  EXPECT_EQ(choose_interface(kInterfaces, "lo", error)->address.to_string(), "127.0.0.1");
  EXPECT_EQ(choose_interface(kInterfaces, "192.168.1.20", error)->name, "wlan0");
  EXPECT_FALSE(choose_interface(kInterfaces, "eth7", error));
  EXPECT_NE(error.find("eth7"), std::string::npos);
  EXPECT_FALSE(choose_interface(kInterfaces, "docker0", error));
  EXPECT_NE(error.find("down"), std::string::npos);
  EXPECT_FALSE(choose_interface(kInterfaces, "tun0", error));
  EXPECT_NE(error.find("multicast"), std::string::npos);
  EXPECT_FALSE(choose_interface(kInterfaces, "10.1.1.1", error));
  EXPECT_NE(error.find("10.1.1.1"), std::string::npos);
  EXPECT_TRUE(kInterfaces[2].contains(make_address_v4("192.168.1.77")));
  EXPECT_FALSE(kInterfaces[2].contains(make_address_v4("192.168.2.77")));
}

TEST(MdnsSocket, OnLinkFilter) {
  asio::io_context io;
  std::string error;
  auto lo = choose_interface(list_ipv4_interfaces(), "lo", error);
  ASSERT_TRUE(lo) << error;
  const auto port = testing::free_udp_port();
  MdnsSocket socket(io, *lo, port);
  std::string why;
  auto ep = [](const char* a, std::uint16_t p) { return udp::endpoint(make_address_v4(a), p); };
  EXPECT_TRUE(socket.accept_source(ep("127.0.0.1", port), 255, lo->index, why)) << why;
  EXPECT_TRUE(socket.accept_source(ep("127.0.0.9", port), 255, lo->index, why)) << why;
  // From the mDNS port, an IP TTL other than 255 means it crossed a router.
  EXPECT_FALSE(socket.accept_source(ep("127.0.0.1", port), 64, lo->index, why));
  EXPECT_NE(why.find("TTL"), std::string::npos);
  // Legacy unicast querier (dig): any TTL, but it must be on the link.
  EXPECT_TRUE(socket.accept_source(ep("127.0.0.1", 40000), 1, lo->index, why)) << why;
  EXPECT_FALSE(socket.accept_source(ep("203.0.113.5", 40000), 64, lo->index, why));
  EXPECT_NE(why.find("not on the link"), std::string::npos);
  EXPECT_FALSE(socket.accept_source(ep("203.0.113.5", port), 255, lo->index, why));
  // Arrived on another interface than the one we serve.
  EXPECT_FALSE(socket.accept_source(ep("127.0.0.1", port), 255, lo->index + 100, why));
}

}  // namespace
}  // namespace baton::discovery
