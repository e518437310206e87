#include "transport/telemetry.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <zmq.hpp>

#include <cstring>

#include "transport/baton.capnp.h"

namespace baton {

std::vector<uint8_t> encode_telemetry(const Telemetry& t) {
  capnp::MallocMessageBuilder message;
  auto m = message.initRoot<rpc::Telemetry>();
  m.setNodeName(t.node);
  m.setSequence(t.sequence);
  m.setUptimeMillis(t.uptime_ms);
  m.setSessions(t.sessions);
  m.setUsedMib(t.used_mib);
  m.setRssMib(t.rss_mib);
  m.setPeakRssMib(t.peak_rss_mib);
  m.setFramesComputed(t.frames);
  m.setBatchesRun(t.batches);
  m.setComputeMicros(t.compute_us);
  m.setOfferedMib(t.offered_mib);
  if (t.temperature_c) {
    m.setHasTemperature(true);
    m.setTemperatureCelsius(static_cast<float>(*t.temperature_c));
  }
  m.setThrottled(t.throttled);
  m.setBatteryPercent(static_cast<int8_t>(t.battery_percent.value_or(-1)));
  m.setCharging(t.charging);
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return {bytes.begin(), bytes.end()};
}

Telemetry decode_telemetry(std::span<const uint8_t> bytes) {
  if (bytes.size() > kMaxTelemetryBytes) {
    throw TelemetryError(fmt::format("heartbeat of {} bytes is larger than the {} allowed", bytes.size(), kMaxTelemetryBytes));
  }
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
    throw TelemetryError(fmt::format("heartbeat of {} bytes is not a whole number of 8-byte words", bytes.size()));
  }
  // Copy into word-aligned memory: a ZeroMQ frame carries no alignment promise.
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kMaxTelemetryBytes / sizeof(capnp::word);
  options.nestingLimit = 4;
  Telemetry t;
  try {
    capnp::FlatArrayMessageReader reader(words, options);
    auto m = reader.getRoot<rpc::Telemetry>();
    if (m.getNodeName().size() > kMaxTelemetryNameBytes) {
      throw TelemetryError(fmt::format("heartbeat names a node of {} bytes (at most {})", m.getNodeName().size(),
                                       kMaxTelemetryNameBytes));
    }
    t.node = m.getNodeName();
    t.sequence = m.getSequence();
    t.uptime_ms = m.getUptimeMillis();
    t.sessions = m.getSessions();
    t.used_mib = m.getUsedMib();
    t.rss_mib = m.getRssMib();
    t.peak_rss_mib = m.getPeakRssMib();
    t.frames = m.getFramesComputed();
    t.batches = m.getBatchesRun();
    t.compute_us = m.getComputeMicros();
    t.offered_mib = m.getOfferedMib();
    if (m.getHasTemperature()) {
      const float c = m.getTemperatureCelsius();
      if (!(c > -100.0f && c < 300.0f)) {  // also refuses NaN
        throw TelemetryError(fmt::format("heartbeat reports an impossible temperature ({} °C)", c));
      }
      t.temperature_c = c;
    }
    t.throttled = m.getThrottled();
    const int battery = m.getBatteryPercent();
    if (battery < -1 || battery > 100) {
      throw TelemetryError(fmt::format("heartbeat reports a battery at {} % (expected 0..100, or -1 for none)", battery));
    }
    if (battery >= 0) t.battery_percent = battery;
    t.charging = m.getCharging();
  } catch (const kj::Exception& e) {
    throw TelemetryError(fmt::format("malformed heartbeat: {}", e.getDescription().cStr()));
  }
  return t;
}

std::string reachable_endpoint(const std::string& bound, const std::string& node_host) {
  for (const char* wildcard : {"tcp://0.0.0.0:", "tcp://*:", "tcp://[::]:"}) {
    const std::string prefix = wildcard;
    if (bound.rfind(prefix, 0) == 0) {
      const bool v6 = node_host.find(':') != std::string::npos;
      return fmt::format("tcp://{}{}{}:{}", v6 ? "[" : "", node_host, v6 ? "]" : "", bound.substr(prefix.size()));
    }
  }
  return bound;
}

// ---------------------------------------------------------------- publisher

struct TelemetryPublisher::Impl {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::pub};
  std::unique_ptr<Aead> sealer;
};

TelemetryPublisher::TelemetryPublisher(const std::string& host)
    : impl_(std::make_unique<Impl>()), key_(random_bytes(kAeadKeyBytes)) {
  impl_->socket.set(zmq::sockopt::linger, 0);
  impl_->socket.set(zmq::sockopt::sndhwm, 16);  // heartbeats are only worth their newest
  const bool wildcard = host.empty() || host == "*" || host == "0.0.0.0" || host == "::" || host == "[::]";
  if (wildcard) {
    // Every interface: [::] accepts IPv4 too where the host has IPv6; without IPv6 the
    // bind fails and 0.0.0.0 serves IPv4 alone.
    try {
      impl_->socket.set(zmq::sockopt::ipv6, 1);
      impl_->socket.bind("tcp://*:*");
    } catch (const zmq::error_t&) {
      impl_->socket.set(zmq::sockopt::ipv6, 0);
      impl_->socket.bind("tcp://0.0.0.0:*");
    }
  } else {
    const bool v6 = host.find(':') != std::string::npos && host.front() != '[';
    if (host.find(':') != std::string::npos) impl_->socket.set(zmq::sockopt::ipv6, 1);
    impl_->socket.bind(fmt::format("tcp://{}{}{}:*", v6 ? "[" : "", host, v6 ? "]" : ""));
  }
  endpoint_ = impl_->socket.get(zmq::sockopt::last_endpoint);
  impl_->sealer = std::make_unique<Aead>(key_);
}

TelemetryPublisher::~TelemetryPublisher() = default;

void TelemetryPublisher::publish(const Telemetry& t) {
  const std::vector<uint8_t> bytes = seal_message(*impl_->sealer, encode_telemetry(t));
  // dontwait: a PUB socket drops rather than blocks; never stall the event loop.
  (void)impl_->socket.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
}

// ---------------------------------------------------------------- subscriber

struct TelemetrySubscriber::Impl {
  struct Followed {
    zmq::socket_t socket;
    std::unique_ptr<Aead> opener;
    uint64_t last_sequence = 0;
  };
  zmq::context_t context{1};
  std::map<std::string, Followed> sockets;  // key -> SUB socket and its node's key
};

TelemetrySubscriber::TelemetrySubscriber() : impl_(std::make_unique<Impl>()) {
  thread_ = std::thread([this] { run(); });
}

TelemetrySubscriber::~TelemetrySubscriber() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void TelemetrySubscriber::follow(std::map<std::string, HeartbeatSource> sources) {
  std::lock_guard<std::mutex> lock(mutex_);
  wanted_ = std::move(sources);
  wanted_changed_ = true;
  // Forget what was heard from nodes no longer followed (or followed anew).
  latest_.clear();
}

std::map<std::string, TelemetrySubscriber::Sample> TelemetrySubscriber::latest() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return latest_;
}

void TelemetrySubscriber::run() {
  auto& sockets = impl_->sockets;
  while (!stop_) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (wanted_changed_) {
        wanted_changed_ = false;
        sockets.clear();
        for (const auto& [key, source] : wanted_) {
          try {
            zmq::socket_t s(impl_->context, zmq::socket_type::sub);
            s.set(zmq::sockopt::linger, 0);
            // ZeroMQ itself drops peers that send anything larger than a heartbeat.
            s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxTelemetryBytes + kSealedOverhead));
            s.set(zmq::sockopt::rcvhwm, 16);
            s.set(zmq::sockopt::subscribe, "");
            s.connect(source.endpoint);
            sockets.emplace(key, Impl::Followed{std::move(s), std::make_unique<Aead>(source.key), 0});
          } catch (const std::exception& e) {
            spdlog::warn("cannot follow the heartbeats of {} at '{}': {}", key, source.endpoint, e.what());
          }
        }
      }
    }
    std::vector<zmq::pollitem_t> items;
    std::vector<std::string> keys;
    for (auto& [key, entry] : sockets) {
      items.push_back({entry.socket.handle(), 0, ZMQ_POLLIN, 0});
      keys.push_back(key);
    }
    if (items.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(50));
    } catch (const zmq::error_t& e) {
      spdlog::warn("heartbeat poll failed: {}", e.what());
      continue;
    }
    for (size_t i = 0; i < items.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      auto& followed = sockets.at(keys[i]);
      zmq::message_t message;
      while (followed.socket.recv(message, zmq::recv_flags::dontwait)) {
        try {
          std::vector<uint8_t> plain;
          try {
            plain = open_message(*followed.opener,
                                 std::span<const uint8_t>(static_cast<const uint8_t*>(message.data()), message.size()));
          } catch (const AeadError& e) {
            throw TelemetryError(e.what());
          }
          Telemetry t = decode_telemetry(plain);
          if (t.sequence <= followed.last_sequence) {
            throw TelemetryError(fmt::format("heartbeat sequence {} repeats or goes back (last {}): a replay",
                                             t.sequence, followed.last_sequence));
          }
          followed.last_sequence = t.sequence;
          std::lock_guard<std::mutex> lock(mutex_);
          if (!wanted_changed_) latest_[keys[i]] = Sample{std::move(t), std::chrono::steady_clock::now()};
        } catch (const TelemetryError& e) {
          if (rejected_.fetch_add(1) % 100 == 0) spdlog::warn("heartbeat from {} refused: {}", keys[i], e.what());
        }
      }
    }
  }
}

}  // namespace baton
