// ZeroMQ heartbeats and telemetry. Every node publishes a small Telemetry message on a
// PUB socket at a fixed period; the coordinator subscribes to each member it planned
// with. A heartbeat's arrival is liveness (a sleeping phone keeps its TCP connections
// open but stops publishing); its content is the node's load and memory.
//
// Heartbeats are sealed (AES-256-GCM) under a random key each node draws at start and
// hands only to peers that proved the cluster secret (NodeInfo.heartbeatKey, inside the
// encrypted RPC channel), and their sequence must increase: a neighbour can neither
// read, forge nor replay a node's liveness. (A key derived from the secret would let any
// subscriber test guesses at the secret offline.)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "transport/aead.h"

namespace baton {

struct Telemetry {
  std::string node;
  uint64_t sequence = 0;
  uint64_t uptime_ms = 0;
  uint32_t sessions = 0;
  uint64_t used_mib = 0, rss_mib = 0, peak_rss_mib = 0;
  uint64_t frames = 0, batches = 0, compute_us = 0;
  uint64_t offered_mib = 0;             // what the node offers the planner (0: no limit)
  std::optional<double> temperature_c;  // hottest thermal zone; nullopt: none
  bool throttled = false;
  std::optional<int> battery_percent;   // nullopt: no battery
  bool charging = false;                // on external power
};

// Anything wrong with a received heartbeat: the message says what.
class TelemetryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr size_t kMaxTelemetryBytes = 4096;  // plaintext; sealed adds kSealedOverhead
inline constexpr size_t kSealedOverhead = kAeadNonceBytes + kAeadTagBytes;
inline constexpr size_t kMaxTelemetryNameBytes = 128;

std::vector<uint8_t> encode_telemetry(const Telemetry& t);
// Bounded: refuses messages over kMaxTelemetryBytes, misaligned or malformed ones, and
// names over kMaxTelemetryNameBytes, before trusting any field.
Telemetry decode_telemetry(std::span<const uint8_t> bytes);

// The endpoint a subscriber should connect to: a wildcard host (0.0.0.0, *) in what the
// publisher bound is replaced by the host the node was reached at.
std::string reachable_endpoint(const std::string& bound, const std::string& node_host);

// The node side. Binds a free port on HOST ("*", "" or 0.0.0.0: every interface, IPv6
// too where the host has it); publish() never blocks (PUB drops when nobody listens or a
// subscriber is slow).
class TelemetryPublisher {
 public:
  explicit TelemetryPublisher(const std::string& host);
  ~TelemetryPublisher();
  const std::string& endpoint() const { return endpoint_; }
  const std::vector<uint8_t>& key() const { return key_; }  // give only to authenticated peers
  void publish(const Telemetry& t);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
  std::vector<uint8_t> key_;
};

// Where a followed node publishes, and the key its heartbeats are sealed with.
struct HeartbeatSource {
  std::string endpoint;
  std::vector<uint8_t> key;
};

// The coordinator side: one SUB socket per followed node (so a heartbeat's source is the
// socket it came in on, not a name it claims), served by its own thread.
class TelemetrySubscriber {
 public:
  struct Sample {
    Telemetry telemetry;
    std::chrono::steady_clock::time_point received;
  };

  TelemetrySubscriber();
  ~TelemetrySubscriber();  // stops the thread (bounded by its poll period)

  // Replaces the followed set: key (the node's RPC address) -> where and under which key.
  // A message that does not open under that key, or repeats an old sequence, is refused.
  void follow(std::map<std::string, HeartbeatSource> sources);
  // The latest heartbeat per key, for keys heard from since they were followed.
  std::map<std::string, Sample> latest() const;
  uint64_t rejected() const { return rejected_.load(); }

 private:
  void run();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  mutable std::mutex mutex_;
  std::map<std::string, HeartbeatSource> wanted_;  // guarded; applied by the thread
  bool wanted_changed_ = false;
  std::map<std::string, Sample> latest_;       // guarded
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> rejected_{0};
  std::thread thread_;
};

}  // namespace baton
