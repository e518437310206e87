// What a node tells the network about itself over mDNS (discovery/ does the protocol):
// the NodeConfig's figures and model hash as DNS-SD TXT attributes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "discovery/mdns_responder.h"
#include "node/stage/node_service.h"

namespace baton {

struct AnnounceOptions {
  bool enabled = true;
  std::string interface;      // "" automatic, "lo", "wlan0" or an IPv4 address
  uint32_t test_ttl_s = 0;    // 0: the RFC's TTLs; >0: short TTLs for tests
  uint16_t port = 5353;       // tests isolate themselves on another port
};

// Starts announcing `config` on `rpc_port`; returns nullptr when disabled. The responder
// sends its goodbye when stopped or destroyed.
std::unique_ptr<discovery::MdnsResponder> announce_node(const NodeConfig& config, const std::string& model_hash,
                                                        uint16_t rpc_port, const AnnounceOptions& options);

}  // namespace baton
