#pragma once
// Browses for baton nodes (_baton._tcp.local) and keeps the peer table current.
//
//   MdnsBrowser b(BrowserConfig{.interface = "lo"});
//   b.start([](const PeerEvent& e) { ... });   // called on the browser thread
//   auto peers = b.peers();                    // thread-safe snapshot at any time
//   b.stop();
//
// Sends PTR queries with known answers (RFC 6762 §7.1), 1 s, 2 s, 4 s ... apart up to
// `max_query_interval` (RFC 6762 §5.2 allows 60 minutes; a coordinator may want less),
// refresh queries at 80/85/90/95% of each record's TTL, and SRV/TXT/A queries for peers it
// knows only partly. Runs its own io_context on one thread.
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "discovery/mdns_socket.h"
#include "discovery/peer_table.h"

namespace baton::discovery {

struct BrowserConfig {
  std::string interface;                // "" = automatic; or a name ("lo") or an IPv4 address
  std::uint16_t mdns_port = kMdnsPort;
  std::chrono::milliseconds max_query_interval{std::chrono::minutes(60)};
  std::chrono::milliseconds tick{100};  // how often expiry and due queries are checked
  PeerTable::Options table;
  std::vector<StaticPeer> static_peers;  // from --peers
  std::uint32_t seed = 0;                // 0 = random
};

class MdnsBrowser {
 public:
  using EventHandler = std::function<void(const PeerEvent&)>;

  explicit MdnsBrowser(BrowserConfig config);
  ~MdnsBrowser();
  MdnsBrowser(const MdnsBrowser&) = delete;
  MdnsBrowser& operator=(const MdnsBrowser&) = delete;

  // Throws std::system_error / std::invalid_argument if the socket cannot be set up.
  void start(EventHandler on_event = {});
  void stop();  // idempotent; not from the event handler

  std::vector<PeerEntry> peers() const;  // thread-safe
  void add_static_peers(const std::vector<StaticPeer>& peers);  // thread-safe
  // Starts the query backoff again from 1 s (e.g. after the network changed). Thread-safe.
  void query_now();

 private:
  void on_packet(const ReceivedPacket& packet);
  void on_tick();
  void send_queries(std::vector<Question> questions, bool include_service_query);
  void deliver(const std::vector<PeerEvent>& events);

  BrowserConfig config_;
  asio::io_context io_;
  std::unique_ptr<MdnsSocket> socket_;
  asio::steady_timer tick_timer_{io_};
  std::mt19937 rng_;
  TimePoint next_service_query_{};
  std::chrono::milliseconds query_interval_{1000};
  EventHandler on_event_;
  mutable std::mutex mutex_;  // guards table_
  PeerTable table_;
  std::thread thread_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace baton::discovery
