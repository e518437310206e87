#pragma once
// Announces one baton node with mDNS / DNS-SD (RFC 6762, RFC 6763).
//
//   MdnsResponder r(ResponderConfig{.advert = {...}, .interface = "lo"});
//   r.start();                          // probe 3x250 ms, then announce (3x, 1 s then 2 s apart)
//   r.update_attributes(new_attrs);     // re-announce a changed TXT
//   r.stop();                           // goodbye (TTL 0), then the thread ends
//
// Runs its own io_context on one thread. Answers PTR/SRV/TXT/A queries for its records
// (multicast, rate-limited to once per record per second), QU questions and legacy unicast
// queries (dig) by unicast, defends its names against probes and renames itself
// ("name (2)") if another host already holds the name.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "discovery/mdns_socket.h"
#include "discovery/responder_core.h"
#include "discovery/service_record.h"

namespace baton::discovery {

struct ResponderConfig {
  ServiceAdvert advert;
  std::string interface;                // "" = automatic; or a name ("lo") or an IPv4 address
  std::uint16_t mdns_port = kMdnsPort;  // tests may isolate themselves on another port
  RecordTtls ttls;                      // RecordTtls::uniform(n) for short test TTLs
  int announcements = 3;                // RFC 6762 §8.3: at least 2, at most 8
  bool probe = true;                    // RFC 6762 §8.1 name probing before announcing
  std::uint32_t seed = 0;               // 0 = random; fixed for reproducible tests
};

class MdnsResponder {
 public:
  // Validates the advert; throws std::invalid_argument naming the problem.
  explicit MdnsResponder(ResponderConfig config);
  ~MdnsResponder();
  MdnsResponder(const MdnsResponder&) = delete;
  MdnsResponder& operator=(const MdnsResponder&) = delete;

  // Opens the socket and starts the thread. Throws std::system_error if the socket cannot
  // be set up, std::invalid_argument if the interface cannot be chosen.
  void start();
  // Sends the goodbye (if anything was announced), closes the socket, joins the thread.
  // Idempotent. Must not be called from a callback running on the responder's thread.
  void stop();

  // Replaces the TXT attributes and re-announces them. Thread-safe.
  void update_attributes(const NodeAttributes& attributes);

  // The node name in use (differs from the configured one after a conflict). Thread-safe.
  std::string current_name() const;
  asio::ip::address_v4 address() const;  // the announced A record (after start)
  bool announced() const { return announced_.load(); }

  // Called on the responder thread when a conflict forced a new name.
  std::function<void(const std::string& new_name)> on_renamed;

 private:
  enum class Phase { idle, probing, announcing, steady, stopped };

  void on_packet(const ReceivedPacket& packet);
  void begin_probing(std::chrono::milliseconds delay);
  void send_probe();
  void begin_announcing();
  void send_announcement();
  void schedule_multicast(const std::vector<ResourceRecord>& answers, std::chrono::milliseconds delay);
  void flush_pending();
  void handle_conflict();
  void rebuild_records();
  void send(const DnsMessage& message);

  ResponderConfig config_;
  std::string original_name_;
  int conflict_attempt_ = 1;

  asio::io_context io_;
  std::unique_ptr<MdnsSocket> socket_;
  std::optional<ResponderCore> core_;
  std::optional<ResponderCore> previous_core_;  // our records before the last change
  TimePoint previous_until_{};
  asio::steady_timer phase_timer_{io_};
  asio::steady_timer response_timer_{io_};
  std::vector<ResourceRecord> pending_answers_;
  std::optional<TimePoint> pending_deadline_;
  Phase phase_ = Phase::idle;
  int probes_sent_ = 0;
  int announcements_sent_ = 0;
  std::chrono::milliseconds announce_gap_{1000};
  std::thread thread_;
  std::atomic<bool> announced_{false};
  mutable std::mutex mutex_;  // guards current_name_ and address_
  std::string current_name_;
  asio::ip::address_v4 address_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace baton::discovery
