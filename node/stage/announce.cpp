#include "node/stage/announce.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <asio/ip/address.hpp>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "discovery/net_interfaces.h"

namespace baton {

bool ListenAddress::every_interface() const { return host == "*"; }

std::string ListenAddress::for_kj() const {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}{}{}:{}", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

ListenAddress parse_listen_address(const std::string& text) {
  ListenAddress out;
  std::string host, port;
  const auto colon = text.rfind(':');
  if (colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  } else {
    port = text;  // a bare port: every interface
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0" || host == "::") host.assign(1, '*');
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    throw std::invalid_argument(fmt::format("--listen '{}': expected HOST:PORT (e.g. 0.0.0.0:7100, 192.168.1.20:7100, "
                                            "127.0.0.1:0) with a port 0..65535",
                                            text));
  }
  if (host != "*") {
    asio::error_code bad;
    asio::ip::make_address(host, bad);
    if (bad) {
      throw std::invalid_argument(fmt::format("--listen '{}': '{}' is not an IP address of this machine (use * for "
                                              "every interface)",
                                              text, host));
    }
  }
  out.host = host;
  out.port = static_cast<uint16_t>(value);
  return out;
}

std::string announce_interface_for(const ListenAddress& listen, const std::string& mdns_interface) {
  if (listen.every_interface()) return mdns_interface;
  asio::error_code ec;
  const auto address = asio::ip::make_address(listen.host, ec);
  if (ec || !address.is_v4()) {
    throw std::invalid_argument(fmt::format(
        "--listen {} is an IPv6 address, which mDNS here cannot announce: listen on * (every interface) or an "
        "IPv4 address, or pass --no-mdns and give coordinators --peers",
        listen.for_kj()));
  }
  if (mdns_interface.empty()) return listen.host;
  std::string error;
  auto chosen = discovery::choose_interface(discovery::list_ipv4_interfaces(), mdns_interface, error);
  if (chosen && chosen->address != address.to_v4()) {
    throw std::invalid_argument(fmt::format(
        "--mdns-interface {} would announce {}, but the node listens only on {}: leave out one of the two, or "
        "listen on * (every interface)",
        mdns_interface, chosen->address.to_string(), listen.host));
  }
  return mdns_interface;
}

std::vector<std::string> served_addresses(const ListenAddress& listen) {
  if (!listen.every_interface()) return {listen.host};
  std::vector<std::string> out;
  for (const auto& i : discovery::list_ipv4_interfaces()) {
    if (i.up) out.push_back(i.address.to_string());
  }
  return out;
}

discovery::NodeAttributes node_attributes(const NodeConfig& config, const std::string& model_hash,
                                          const HealthReading& health) {
  discovery::NodeAttributes a;
  a.node_id = config.node_id;
  a.kind = config.kind;
  a.memory_mib = config.memory_mib;
  a.compute_gflops = config.compute_gflops;
  a.bandwidth_gbps = config.bandwidth_gbs;
  a.model_hash = model_hash;
  a.detected = config.detected;
  a.role = discovery::NodeRole::node;
  if (health.temperature_c) a.temperature_c = static_cast<int>(std::lround(*health.temperature_c));
  a.battery_percent = health.battery_percent;
  a.charging = health.charging;
  a.throttled = health.throttled;
  return a;
}

bool health_worth_announcing(const HealthReading& announced, const HealthReading& now) {
  if (announced.throttled != now.throttled || announced.charging != now.charging) return true;
  if (announced.battery_percent.has_value() != now.battery_percent.has_value()) return true;
  if (now.battery_percent && *announced.battery_percent / 5 != *now.battery_percent / 5) return true;
  if (announced.temperature_c.has_value() != now.temperature_c.has_value()) return true;
  return now.temperature_c && std::abs(*announced.temperature_c - *now.temperature_c) >= 3.0;
}

std::unique_ptr<discovery::MdnsResponder> announce_node(const NodeConfig& config, const std::string& model_hash,
                                                        uint16_t rpc_port, const AnnounceOptions& options,
                                                        const HealthReading& health) {
  if (!options.enabled) return nullptr;
  discovery::ResponderConfig rc;
  rc.advert.node_name = config.name;
  rc.advert.port = rpc_port;
  rc.advert.attributes = node_attributes(config, model_hash, health);
  rc.interface = options.interface;
  rc.mdns_port = options.port;
  if (options.test_ttl_s > 0) rc.ttls = discovery::RecordTtls::uniform(options.test_ttl_s);
  auto responder = std::make_unique<discovery::MdnsResponder>(rc);
  responder->on_renamed = [](const std::string& name) {
    spdlog::warn("another node on the network is called the same; announcing as '{}'", name);
  };
  responder->start();
  spdlog::info("announcing {} as _baton._tcp.local on port {}", config.name, rpc_port);
  return responder;
}

}  // namespace baton
