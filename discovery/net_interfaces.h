#pragma once
// Local IPv4 interfaces: which one mDNS uses, and whether a packet's source is on-link.
#include <optional>
#include <string>
#include <vector>

#include <asio/ip/address_v4.hpp>

namespace baton::discovery {

struct Ipv4Interface {
  std::string name;  // "lo", "eth0", "wlan0" ...
  unsigned index = 0;
  asio::ip::address_v4 address;
  asio::ip::address_v4 netmask;
  bool up = false;
  bool loopback = false;
  bool multicast = false;  // IFF_MULTICAST

  // True if `a` lies in this interface's subnet.
  bool contains(const asio::ip::address_v4& a) const;
};

// Every IPv4 address of every interface (getifaddrs); an interface with two addresses
// appears twice.
std::vector<Ipv4Interface> list_ipv4_interfaces();

// Picks the interface to announce and browse on. `spec` is
//   ""            automatic: the first up, multicast-capable, non-loopback interface; if
//                 there is none, loopback (a phone with Wi-Fi off still sees itself);
//   "lo", "eth0"  an interface name;
//   "127.0.0.1"   the interface holding this IPv4 address.
// Loopback is accepted even without IFF_MULTICAST: Linux delivers multicast sent with
// IP_MULTICAST_IF=127.0.0.1 to sockets that joined the group on 127.0.0.1, which is how
// several processes on one machine (and the tests) find each other without a LAN.
// On failure returns nullopt and sets `error` to a sentence naming the problem.
std::optional<Ipv4Interface> choose_interface(const std::vector<Ipv4Interface>& interfaces,
                                              const std::string& spec, std::string& error);

}  // namespace baton::discovery
