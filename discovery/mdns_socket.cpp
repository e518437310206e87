#include "discovery/mdns_socket.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <asio/ip/multicast.hpp>
#include <asio/ip/unicast.hpp>
#include <spdlog/spdlog.h>

namespace baton::discovery {
namespace {

constexpr int kMaxPacketsPerWakeup = 64;  // bounded work per wake-up; the rest waits

void check(const asio::error_code& ec, const std::string& step) {
  if (ec) throw std::system_error(ec, "mDNS socket: " + step);
}

void set_int_option(int fd, int level, int name, int value, const std::string& step) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0)
    throw std::system_error(errno, std::generic_category(), "mDNS socket: " + step);
}

}  // namespace

MdnsSocket::MdnsSocket(asio::io_context& io, Ipv4Interface interface, std::uint16_t port)
    : socket_(io), interface_(std::move(interface)), port_(port), buffer_(kMaxMdnsPacket + 1) {
  using asio::ip::udp;
  asio::error_code ec;
  socket_.open(udp::v4(), ec);
  check(ec, "open");
  socket_.set_option(asio::socket_base::reuse_address(true), ec);
  check(ec, "SO_REUSEADDR");
  const int fd = socket_.native_handle();
  set_int_option(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO");
  set_int_option(fd, IPPROTO_IP, IP_RECVTTL, 1, "IP_RECVTTL");
#ifdef IP_MULTICAST_ALL
  // Linux otherwise hands a socket bound to INADDR_ANY every group any socket joined.
  set_int_option(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0, "IP_MULTICAST_ALL");
#endif
  socket_.bind(udp::endpoint(asio::ip::address_v4::any(), port_), ec);
  check(ec, "bind to UDP port " + std::to_string(port_));
  socket_.set_option(asio::ip::multicast::join_group(mdns_group_v4(), interface_.address), ec);
  check(ec, "join 224.0.0.251 on " + interface_.name + " (" + interface_.address.to_string() + ")");
  socket_.set_option(asio::ip::multicast::outbound_interface(interface_.address), ec);
  check(ec, "IP_MULTICAST_IF " + interface_.address.to_string());
  // RFC 6762 §11: send with IP TTL 255 so receivers can tell the packet stayed on the link.
  socket_.set_option(asio::ip::multicast::hops(255), ec);
  check(ec, "IP_MULTICAST_TTL");
  socket_.set_option(asio::ip::unicast::hops(255), ec);
  check(ec, "IP_TTL");
  socket_.set_option(asio::ip::multicast::enable_loopback(true), ec);
  check(ec, "IP_MULTICAST_LOOP");
  socket_.non_blocking(true, ec);
  check(ec, "non-blocking mode");
  for (const auto& i : list_ipv4_interfaces()) own_addresses_.push_back(i.address);
}

void MdnsSocket::start(std::function<void(const ReceivedPacket&)> handler) {
  handler_ = std::move(handler);
  wait_for_packets();
}

void MdnsSocket::wait_for_packets() {
  socket_.async_wait(asio::ip::udp::socket::wait_read, [this](const asio::error_code& ec) {
    if (ec) return;  // closed or cancelled
    drain();
    if (socket_.is_open()) wait_for_packets();
  });
}

void MdnsSocket::drain() {
  const int fd = socket_.native_handle();
  for (int i = 0; i < kMaxPacketsPerWakeup && socket_.is_open(); ++i) {
    sockaddr_in from{};
    iovec iov{buffer_.data(), buffer_.size()};
    alignas(cmsghdr) char control[256];
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        spdlog::debug("mdns: recvmsg failed: {}", std::strerror(errno));
      return;
    }
    const asio::ip::udp::endpoint source(asio::ip::address_v4(ntohl(from.sin_addr.s_addr)), ntohs(from.sin_port));
    if ((msg.msg_flags & MSG_TRUNC) || static_cast<std::size_t>(n) > kMaxMdnsPacket) {
      spdlog::debug("mdns: dropped packet from {}: larger than {} bytes", source.address().to_string(),
                    kMaxMdnsPacket);
      continue;
    }
    int ttl = -1;
    unsigned arrival_index = 0;
    bool to_multicast = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != IPPROTO_IP) continue;
      if (c->cmsg_type == IP_TTL && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        std::memcpy(&ttl, CMSG_DATA(c), sizeof(int));
      } else if (c->cmsg_type == IP_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        arrival_index = static_cast<unsigned>(info.ipi_ifindex);
        to_multicast = IN_MULTICAST(ntohl(info.ipi_addr.s_addr));
      }
    }
    std::string why_not;
    if (!accept_source(source, ttl, arrival_index, why_not)) {
      spdlog::debug("mdns: dropped packet from {}:{}: {}", source.address().to_string(), source.port(), why_not);
      continue;
    }
    if (handler_)
      handler_(ReceivedPacket{std::span<const std::uint8_t>(buffer_.data(), static_cast<std::size_t>(n)), source,
                              ttl, to_multicast});
  }
}

bool MdnsSocket::accept_source(const asio::ip::udp::endpoint& source, int ttl, unsigned arrival_index,
                               std::string& why_not) const {
  if (arrival_index != 0 && interface_.index != 0 && arrival_index != interface_.index) {
    why_not = "arrived on another interface";
    return false;
  }
  if (!source.address().is_v4()) {
    why_not = "not IPv4";
    return false;
  }
  const auto a = source.address().to_v4();
  const bool own = std::find(own_addresses_.begin(), own_addresses_.end(), a) != own_addresses_.end();
  const bool on_link = interface_.contains(a) || (interface_.loopback && a.is_loopback()) || own;
  if (!on_link) {
    why_not = "source is not on the link of " + interface_.name;
    return false;
  }
  if (source.port() == port_ && ttl >= 0 && ttl != 255) {
    why_not = "IP TTL " + std::to_string(ttl) + " instead of 255: it crossed a router";
    return false;
  }
  return true;
}

void MdnsSocket::send_multicast(const std::vector<std::uint8_t>& bytes) {
  send_to(bytes, asio::ip::udp::endpoint(mdns_group_v4(), port_));
}

void MdnsSocket::send_to(const std::vector<std::uint8_t>& bytes, const asio::ip::udp::endpoint& to) {
  if (!socket_.is_open()) return;
  asio::error_code ec;
  socket_.send_to(asio::buffer(bytes), to, 0, ec);
  if (ec) spdlog::debug("mdns: send to {}:{} failed: {}", to.address().to_string(), to.port(), ec.message());
}

void MdnsSocket::close() {
  asio::error_code ec;
  socket_.close(ec);
}

}  // namespace baton::discovery
