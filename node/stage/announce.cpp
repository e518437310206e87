#include "node/stage/announce.h"

#include <spdlog/spdlog.h>

namespace baton {

std::unique_ptr<discovery::MdnsResponder> announce_node(const NodeConfig& config, const std::string& model_hash,
                                                        uint16_t rpc_port, const AnnounceOptions& options) {
  if (!options.enabled) return nullptr;
  discovery::ResponderConfig rc;
  rc.advert.node_name = config.name;
  rc.advert.port = rpc_port;
  rc.advert.attributes.node_id = config.node_id;
  rc.advert.attributes.kind = config.kind;
  rc.advert.attributes.memory_mib = config.memory_mib;
  rc.advert.attributes.compute_gflops = config.compute_gflops;
  rc.advert.attributes.bandwidth_gbps = config.bandwidth_gbs;
  rc.advert.attributes.model_hash = model_hash;
  rc.advert.attributes.role = discovery::NodeRole::node;
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
