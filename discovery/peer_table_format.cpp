#include "discovery/peer_table_format.h"

#include <algorithm>
#include <cstdio>

namespace baton::discovery {
namespace {

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string ago(TimePoint then, TimePoint now) {
  if (then == TimePoint{}) return "-";
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - then).count();
  if (seconds < 0) return "0s ago";
  if (seconds < 120) return std::to_string(seconds) + "s ago";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m ago";
  return std::to_string(seconds / 3600) + "h ago";
}

// Where MEM/GFLOPS/BW/KIND came from: measured by the node, or typed by its owner.
std::string figures(const NodeAttributes& a) {
  if (a.detected.empty()) return "configured";
  if (a.detected == "mem,gflops,bw,kind") return "detected";
  return a.detected + " detected";
}

// "71°C throttled, battery 54% charging", "-" when the device reports neither.
std::string health(const NodeAttributes& a) {
  std::string out;
  if (a.temperature_c) out += std::to_string(*a.temperature_c) + "°C" + (a.throttled ? " throttled" : "");
  if (a.battery_percent) {
    out += (out.empty() ? "" : ", ") + std::string("battery ") + std::to_string(*a.battery_percent) + "%" +
           (a.charging ? " charging" : "");
  }
  return out.empty() ? "-" : out;
}

}  // namespace

std::string format_peer_table(const std::vector<PeerEntry>& peers, TimePoint now, const RttLookup& rtt) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAME", "ADDRESS", "PORT", "KIND", "ROLE", "MEM(MiB)", "GFLOPS", "BW(GB/s)", "FIGURES", "HEALTH", "RTT(ms)",
                  "LAST-SEEN", "STATE", "SOURCE"});
  for (const auto& p : peers) {
    const auto& a = p.attributes;
    std::optional<double> r = rtt ? rtt(p) : std::nullopt;
    rows.push_back({p.name, p.address ? p.address->to_string() : p.host, std::to_string(p.port),
                    a ? a->kind : "?", a ? to_string(a->role) : "?", a ? std::to_string(a->memory_mib) : "?",
                    a ? fixed(a->compute_gflops, 1) : "?", a ? fixed(a->bandwidth_gbps, 1) : "?",
                    a ? figures(*a) : "?", a ? health(*a) : "?", r ? fixed(*r, 1) : "-", ago(p.last_seen, now), to_string(p.state), to_string(p.source)});
  }
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  if (peers.empty()) out += "(no peers yet)\n";
  return out;
}

}  // namespace baton::discovery
