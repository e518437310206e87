#include <gtest/gtest.h>

#include <sstream>

#include "discovery/peer_table_format.h"

namespace baton::discovery {
namespace {

TEST(PeerTableFormat, ShowsEveryColumnAligned) {
  const TimePoint now = TimePoint{} + std::chrono::hours(10);
  PeerEntry phone;
  phone.name = "Anna's phone";
  phone.address = asio::ip::make_address("192.168.1.23");
  phone.port = 7000;
  NodeAttributes a;
  a.node_id = "p1";
  a.kind = "phone";
  a.memory_mib = 6144;
  a.compute_gflops = 12.25;
  a.bandwidth_gbps = 25;
  phone.attributes = a;
  phone.last_seen = now - std::chrono::seconds(5);
  PeerEntry fixed_peer;
  fixed_peer.name = "pc.lan:7000";
  fixed_peer.host = "pc.lan";
  fixed_peer.port = 7000;
  fixed_peer.state = PeerState::active;
  fixed_peer.source = PeerSource::static_list;
  auto text = format_peer_table({phone, fixed_peer}, now, [](const PeerEntry& p) -> std::optional<double> {
    if (p.name == "Anna's phone") return 3.5;
    return std::nullopt;
  });
  std::istringstream lines(text);
  std::string header, row1, row2;
  std::getline(lines, header);
  std::getline(lines, row1);
  std::getline(lines, row2);
  EXPECT_EQ(header.find("NAME"), 0u);
  // Columns line up: each column starts at the same offset in every row.
  EXPECT_EQ(row1.find("192.168.1.23"), header.find("ADDRESS"));
  EXPECT_EQ(row2.substr(header.find("ADDRESS"), 7), "pc.lan ");
  for (const char* cell : {"phone", "node", "6144", "12.2", "25.0", "3.5", "5s ago", "active", "mdns"})
    EXPECT_NE(row1.find(cell), std::string::npos) << cell << " missing in: " << row1;
  for (const char* cell : {"?", "-", "static"}) EXPECT_NE(row2.find(cell), std::string::npos) << cell;
  EXPECT_NE(format_peer_table({}, now).find("no peers"), std::string::npos);
}

}  // namespace
}  // namespace baton::discovery
