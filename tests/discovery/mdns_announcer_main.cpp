// baton_mdns_announcer: announces a fake baton node over mDNS until SIGTERM/SIGINT, then
// sends the goodbye and exits 0. Test helper for process-level discovery tests (goodbye on
// SIGTERM, expiry after SIGKILL, dig/avahi interop); `baton node` makes the same calls.
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "discovery/mdns_responder.h"

using namespace baton::discovery;

int main(int argc, char** argv) {
  CLI::App app{"Announce a fake baton node over mDNS/DNS-SD until SIGTERM or SIGINT (test helper)."};
  ResponderConfig config;
  config.advert.attributes.node_id = "test-node";
  config.advert.attributes.kind = "pc";
  std::string role = "node";
  unsigned ttl = 0;
  double update_after = 0;
  std::uint64_t update_mem = 0;
  std::string log_level = "info";
  bool no_probe = false;
  app.add_option("--name", config.advert.node_name, "Node (instance) name")->required();
  app.add_option("--port", config.advert.port, "RPC port to advertise in SRV")->required();
  app.add_option("--id", config.advert.attributes.node_id, "Node id (TXT id)");
  app.add_option("--kind", config.advert.attributes.kind, "Device kind (TXT kind)");
  app.add_option("--mem", config.advert.attributes.memory_mib, "Accelerator memory in MiB (TXT mem)");
  app.add_option("--gflops", config.advert.attributes.compute_gflops, "Compute score (TXT gflops)");
  app.add_option("--bw", config.advert.attributes.bandwidth_gbps, "Memory bandwidth GB/s (TXT bw)");
  app.add_option("--model", config.advert.attributes.model_hash, "Model hash (TXT model)");
  app.add_option("--role", role, "node or coordinator")->check(CLI::IsMember({"node", "coordinator"}));
  app.add_option("--ttl", ttl, "Use this TTL in seconds for every record (tests); default: RFC TTLs");
  app.add_option("--interface", config.interface, "Interface name or IPv4 address (default: automatic)");
  app.add_option("--mdns-port", config.mdns_port, "UDP port instead of 5353 (isolated tests)");
  app.add_flag("--no-probe", no_probe, "Announce at once without probing the name first");
  app.add_option("--update-after", update_after, "Seconds after which to re-announce with --update-mem");
  app.add_option("--update-mem", update_mem, "New TXT mem value for --update-after");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  CLI11_PARSE(app, argc, argv);

  spdlog::set_level(spdlog::level::from_str(log_level));
  config.advert.attributes.role = *parse_node_role(role);
  if (ttl > 0) config.ttls = RecordTtls::uniform(ttl);
  config.probe = !no_probe;

  // Block the stop signals before any thread starts so only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    MdnsResponder responder(config);
    responder.on_renamed = [](const std::string& name) { std::cout << "renamed " << name << std::endl; };
    responder.start();
    std::cout << "announcing " << responder.current_name() << " on " << responder.address().to_string() << std::endl;
    if (update_after > 0) {
      timespec wait{static_cast<time_t>(update_after),
                    static_cast<long>((update_after - static_cast<time_t>(update_after)) * 1e9)};
      if (sigtimedwait(&stop_signals, nullptr, &wait) < 0) {
        NodeAttributes changed = config.advert.attributes;
        changed.memory_mib = update_mem;
        responder.update_attributes(changed);
        std::cout << "updated mem=" << update_mem << std::endl;
      } else {
        responder.stop();
        std::cout << "goodbye" << std::endl;
        return 0;
      }
    }
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    responder.stop();
    std::cout << "goodbye" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "baton_mdns_announcer: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
