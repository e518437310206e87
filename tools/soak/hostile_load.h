// Hostile load against a live local cluster while a client streams: idle TCP connections
// that never start a handshake (to a node), slow HTTP clients dribbling headers (to the
// coordinator). Measured before and under load: the streamed greedy text, legitimate
// joins, /health, and each process's memory. Issue 14's targets: a join < 100 ms and
// /health answering under 5,000 idle connections and 200 slow clients.
#pragma once

#include <string>
#include <vector>

#include "tools/soak/soak_cluster.h"

namespace baton::soak {

struct HostileLoadOptions {
  int idle_connections = 5000;
  int slow_http_clients = 200;
  int joins = 5;           // legitimate joins timed, before and under load
  int health_probes = 10;
  int max_tokens = 64;
  int rounds = 10;         // measurements under load, one after the other (the load stays)
  std::string prompt = "And God said";
};

struct Figures {
  std::string text;            // the greedy stream
  bool stream_ok = false;
  std::string stream_error;
  double ttft_ms = 0;
  std::vector<double> join_ms; // failed joins are not in here
  int joins_failed = 0;
  int streams = 0;             // streamed (rounds)
  bool same_text = true;       // every stream had the first quiet one's text
  int health_ok = 0;
  int health_probes = 0;
  double health_max_ms = 0;
  double node_rss_mib = 0, coordinator_rss_mib = 0;
};

struct HostileLoadReport {
  HostileLoadOptions options;
  int idle_opened = 0;         // idle connections made (first ones and reconnections)
  int idle_cut_off = 0;        // times the node hung up on one (its handshake deadline)
  int slow_opened = 0;         // slow HTTP connections made
  int slow_cut_off = 0;        // times the coordinator hung up on one (its head deadline)
  Figures quiet, loaded;
  bool processes_alive = false;
};

HostileLoadReport run_hostile_load(SoakCluster& cluster, const HostileLoadOptions& options);
// A table for people, and whether every target held.
std::string render(const HostileLoadReport& report);
bool targets_held(const HostileLoadReport& report);

}  // namespace baton::soak
