#include "discovery/net_interfaces.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <asio/ip/address.hpp>

namespace baton::discovery {

bool Ipv4Interface::contains(const asio::ip::address_v4& a) const {
  const auto mask = netmask.to_uint();
  return (a.to_uint() & mask) == (address.to_uint() & mask);
}

std::vector<Ipv4Interface> list_ipv4_interfaces() {
  std::vector<Ipv4Interface> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* it = list; it; it = it->ifa_next) {
    if (!it->ifa_addr || it->ifa_addr->sa_family != AF_INET) continue;
    Ipv4Interface i;
    i.name = it->ifa_name ? it->ifa_name : "";
    i.index = if_nametoindex(it->ifa_name);
    const auto* sin = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
    i.address = asio::ip::address_v4(ntohl(sin->sin_addr.s_addr));
    if (it->ifa_netmask) {
      const auto* mask = reinterpret_cast<const sockaddr_in*>(it->ifa_netmask);
      i.netmask = asio::ip::address_v4(ntohl(mask->sin_addr.s_addr));
    } else {
      i.netmask = asio::ip::address_v4(0xFFFFFFFFu);
    }
    i.up = (it->ifa_flags & IFF_UP) != 0;
    i.loopback = (it->ifa_flags & IFF_LOOPBACK) != 0;
    i.multicast = (it->ifa_flags & IFF_MULTICAST) != 0;
    out.push_back(std::move(i));
  }
  freeifaddrs(list);
  return out;
}

std::optional<Ipv4Interface> choose_interface(const std::vector<Ipv4Interface>& interfaces,
                                              const std::string& spec, std::string& error) {
  if (spec.empty()) {
    for (const auto& i : interfaces)
      if (i.up && i.multicast && !i.loopback) return i;
    for (const auto& i : interfaces)
      if (i.up && i.loopback) return i;
    error = "no usable network interface (none is up with an IPv4 address)";
    return std::nullopt;
  }
  asio::error_code ec;
  const auto as_address = asio::ip::make_address_v4(spec, ec);
  for (const auto& i : interfaces) {
    const bool match = ec ? i.name == spec : i.address == as_address;
    if (!match) continue;
    if (!i.up) {
      error = "interface " + i.name + " is down";
      return std::nullopt;
    }
    if (!i.multicast && !i.loopback) {
      error = "interface " + i.name + " does not support multicast";
      return std::nullopt;
    }
    return i;
  }
  error = ec ? "no interface named '" + spec + "' with an IPv4 address"
             : "no local interface has the address " + spec;
  return std::nullopt;
}

}  // namespace baton::discovery
