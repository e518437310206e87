#pragma once
// The UDP socket both the responder and the browser use: bound to the mDNS port with
// SO_REUSEADDR (so several baton processes on one machine can share it), joined to
// 224.0.0.251 on one interface, sending multicast with TTL 255 through that interface
// with loopback on (so processes on the same machine hear each other).
//
// Received packets come with their IP TTL and arrival interface (IP_RECVTTL, IP_PKTINFO,
// read with recvmsg because Asio does not expose ancillary data); packets that do not come
// from the link are dropped here, before any parsing (RFC 6762 §11).
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include "discovery/net_interfaces.h"

namespace baton::discovery {

inline constexpr std::uint16_t kMdnsPort = 5353;
inline asio::ip::address_v4 mdns_group_v4() { return asio::ip::address_v4(0xE00000FBu); }  // 224.0.0.251
// RFC 6762 §17: mDNS packets may be up to 9000 bytes; anything larger is dropped.
inline constexpr std::size_t kMaxMdnsPacket = 9000;

struct ReceivedPacket {
  std::span<const std::uint8_t> data;
  asio::ip::udp::endpoint source;
  int ttl = -1;               // IP TTL, -1 if the kernel did not say
  bool to_multicast = false;  // sent to the group rather than to us directly
};

class MdnsSocket {
 public:
  // Opens, binds and joins; throws std::system_error with a message naming the step.
  MdnsSocket(asio::io_context& io, Ipv4Interface interface, std::uint16_t port);
  MdnsSocket(const MdnsSocket&) = delete;
  MdnsSocket& operator=(const MdnsSocket&) = delete;

  // Starts the receive loop on the io_context; `handler` sees only on-link packets.
  void start(std::function<void(const ReceivedPacket&)> handler);
  void send_multicast(const std::vector<std::uint8_t>& bytes);
  void send_to(const std::vector<std::uint8_t>& bytes, const asio::ip::udp::endpoint& to);
  void close();

  const Ipv4Interface& interface() const { return interface_; }
  std::uint16_t port() const { return port_; }

  // RFC 6762 §11: a packet is on-link if it arrived on our interface from an address in
  // that interface's subnet (or one of this host's own addresses) and, when it comes from
  // the mDNS port, with IP TTL 255 (routers decrement it). Legacy unicast queries (other
  // source ports, e.g. dig) may carry any TTL but must still come from the link.
  bool accept_source(const asio::ip::udp::endpoint& source, int ttl, unsigned arrival_index,
                     std::string& why_not) const;

 private:
  void wait_for_packets();
  void drain();

  asio::ip::udp::socket socket_;
  Ipv4Interface interface_;
  std::uint16_t port_;
  std::vector<asio::ip::address_v4> own_addresses_;
  std::vector<std::uint8_t> buffer_;
  std::function<void(const ReceivedPacket&)> handler_;
};

}  // namespace baton::discovery
