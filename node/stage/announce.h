// What a node tells the network about itself over mDNS (discovery/ does the protocol):
// the NodeConfig's figures and model hash as DNS-SD TXT attributes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "discovery/mdns_responder.h"
#include "node/stage/device_health.h"
#include "node/stage/node_service.h"

namespace baton {

struct AnnounceOptions {
  bool enabled = true;
  std::string interface;      // "" automatic, "lo", "wlan0" or an IPv4 address
  uint32_t test_ttl_s = 0;    // 0: the RFC's TTLs; >0: short TTLs for tests
  uint16_t port = 5353;       // tests isolate themselves on another port
};

// A node's --listen split up: host ("*" for every interface), port.
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
  bool every_interface() const;
  std::string for_kj() const;  // what kj's parseAddress takes ("*:7100", "[::1]:7100")
};
// Parses HOST:PORT, [V6]:PORT, *:PORT, 0.0.0.0:PORT or a bare PORT (every interface);
// throws std::invalid_argument naming the problem.
ListenAddress parse_listen_address(const std::string& text);

// The interface mDNS should announce so that the advertised address is one the node
// serves: the --mdns-interface given, else the interface holding a specific listen
// address (127.0.0.1: loopback), else automatic. Throws std::invalid_argument when the two
// disagree or the listen address is one mDNS cannot announce (IPv6 only).
std::string announce_interface_for(const ListenAddress& listen, const std::string& mdns_interface);

// The IPv4 addresses a node listening on `listen` serves, for the start-up line.
std::vector<std::string> served_addresses(const ListenAddress& listen);

// The TXT attributes of a node: its figures, model and current heat and battery.
discovery::NodeAttributes node_attributes(const NodeConfig& config, const std::string& model_hash,
                                          const HealthReading& health);
// Whether a new reading is worth a re-announcement (multicast costs every device on the
// network a wake-up): throttling or power changed, battery crossed a multiple of 5 %,
// temperature moved by 3 °C or more.
bool health_worth_announcing(const HealthReading& announced, const HealthReading& now);

// Starts announcing `config` on `rpc_port`; returns nullptr when disabled. The responder
// sends its goodbye when stopped or destroyed.
std::unique_ptr<discovery::MdnsResponder> announce_node(const NodeConfig& config, const std::string& model_hash,
                                                        uint16_t rpc_port, const AnnounceOptions& options,
                                                        const HealthReading& health = {});

}  // namespace baton
