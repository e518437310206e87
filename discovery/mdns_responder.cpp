#include "discovery/mdns_responder.h"
#include "discovery/io_thread.h"

#include <random>
#include <stdexcept>

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <spdlog/spdlog.h>

namespace baton::discovery {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kProbeInterval{250};          // RFC 6762 §8.1
constexpr milliseconds kLostProbeWait{1000};         // RFC 6762 §8.2
constexpr milliseconds kManyConflictsWait{5000};     // RFC 6762 §8.1, after 15 conflicts
constexpr milliseconds kEchoWindow{2000};            // our own old records may still arrive
constexpr int kProbeCount = 3;

std::uint32_t pick_seed(std::uint32_t seed) { return seed != 0 ? seed : std::random_device{}(); }

}  // namespace

MdnsResponder::MdnsResponder(ResponderConfig config) : config_(std::move(config)) {
  if (auto error = validate_advert(config_.advert); !error.empty()) throw std::invalid_argument(error);
  if (config_.announcements < 2 || config_.announcements > 8)
    throw std::invalid_argument("announcements must be 2..8 (RFC 6762 section 8.3)");
  config_.seed = pick_seed(config_.seed);
  original_name_ = config_.advert.node_name;
  current_name_ = original_name_;
}

MdnsResponder::~MdnsResponder() { stop(); }

void MdnsResponder::start() {
  if (started_) return;
  std::string error;
  auto interface = choose_interface(list_ipv4_interfaces(), config_.interface, error);
  if (!interface) throw std::invalid_argument("mDNS responder: " + error);
  socket_ = std::make_unique<MdnsSocket>(io_, *interface, config_.mdns_port);
  {
    std::lock_guard lock(mutex_);
    address_ = interface->address;
  }
  rebuild_records();
  socket_->start([this](const ReceivedPacket& p) { on_packet(p); });
  if (config_.probe) {
    // RFC 6762 §8.1: wait 0-250 ms before the first probe so hosts that power up together
    // do not probe in lockstep.
    std::mt19937 rng(config_.seed);
    begin_probing(milliseconds(std::uniform_int_distribution<int>(0, 250)(rng)));
  } else {
    asio::post(io_, [this] { begin_announcing(); });
  }
  started_ = true;
  spdlog::info("mdns: announcing '{}' on {} ({}) port {}", current_name(), interface->name,
               interface->address.to_string(), config_.advert.port);
  thread_ = std::thread([this] {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("mdns responder: {}", e.what());  // keep serving; stop() still works
      }
    }
  });
}

void MdnsResponder::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  finish_on_io_thread(io_, thread_, [this] {
    phase_timer_.cancel();
    response_timer_.cancel();
    if (announced_.load()) {
      send(core_->goodbye());  // RFC 6762 §10.1
      spdlog::info("mdns: sent goodbye for '{}'", current_name());
    }
    phase_ = Phase::stopped;
    socket_->close();
  });
}

void MdnsResponder::update_attributes(const NodeAttributes& attributes) {
  if (auto error = validate_attributes(attributes); !error.empty()) throw std::invalid_argument(error);
  asio::post(io_, [this, attributes] {
    if (phase_ == Phase::stopped) return;
    config_.advert.attributes = attributes;
    rebuild_records();
    // RFC 6762 §8.4: changed data is announced again like at start; no new probe needed.
    if (phase_ == Phase::announcing || phase_ == Phase::steady) begin_announcing();
  });
}

std::string MdnsResponder::current_name() const {
  std::lock_guard lock(mutex_);
  return current_name_;
}

asio::ip::address_v4 MdnsResponder::address() const {
  std::lock_guard lock(mutex_);
  return address_;
}

void MdnsResponder::rebuild_records() {
  ServiceAdvert advert = config_.advert;
  advert.node_name = current_name();
  auto records = build_service_records(advert, address().to_bytes(), config_.ttls);
  if (core_) {
    previous_core_ = *core_;
    previous_until_ = DiscoveryClock::now() + kEchoWindow;
    core_->set_records(std::move(records));
  } else {
    core_.emplace(std::move(records), config_.seed);
  }
}

void MdnsResponder::send(const DnsMessage& message) {
  try {
    socket_->send_multicast(write_dns_message(message));
  } catch (const std::invalid_argument& e) {
    spdlog::error("mdns: could not encode a response: {}", e.what());
  }
}

void MdnsResponder::on_packet(const ReceivedPacket& packet) {
  if (phase_ == Phase::stopped || phase_ == Phase::idle) return;
  DnsParseResult parsed = parse_dns_message(packet.data);
  if (!parsed) {
    spdlog::debug("mdns: dropped packet from {}:{}: {}", packet.source.address().to_string(), packet.source.port(),
                  parsed.failure().describe());
    return;
  }
  const DnsMessage& message = parsed.message();
  spdlog::trace("mdns: {} from {}:{} ({} questions, {} answers, ttl {})",
                message.is_response() ? "response" : "query", packet.source.address().to_string(),
                packet.source.port(), message.questions.size(), message.answers.size(), packet.ttl);
  const auto now = DiscoveryClock::now();
  const bool from_mdns_port = packet.source.port() == config_.mdns_port;

  if (message.is_response()) {
    if (!from_mdns_port) return;  // RFC 6762 §6: responses must come from port 5353
    if (!core_->is_conflicting_response(message)) return;
    const bool echo_of_old_records =
        previous_core_ && now < previous_until_ && !previous_core_->is_conflicting_response(message);
    if (!echo_of_old_records) handle_conflict();
    return;
  }

  if (phase_ == Phase::probing) {
    // Not yet ours: answer nothing, but settle simultaneous probes (RFC 6762 §8.2).
    if (from_mdns_port && !message.authorities.empty() &&
        core_->contest_probe(message) == ResponderCore::ProbeContest::we_lose) {
      spdlog::debug("mdns: lost a simultaneous probe for '{}', probing again in 1 s", current_name());
      begin_probing(kLostProbeWait);
    }
    return;
  }
  if (phase_ != Phase::announcing && phase_ != Phase::steady) return;

  ResponderCore::Plan plan = core_->plan(message, !from_mdns_port, now);
  if (plan.unicast_reply) {
    try {
      socket_->send_to(write_dns_message(*plan.unicast_reply), packet.source);
    } catch (const std::invalid_argument& e) {
      spdlog::error("mdns: could not encode a unicast reply: {}", e.what());
    }
  }
  if (plan.probe_defence) {
    if (auto m = core_->multicast_response(plan.multicast_answers, now, true)) send(*m);
  } else if (!plan.multicast_answers.empty()) {
    schedule_multicast(plan.multicast_answers, plan.multicast_delay);
  }
}

void MdnsResponder::begin_probing(milliseconds delay) {
  phase_ = Phase::probing;
  probes_sent_ = 0;
  pending_answers_.clear();
  pending_deadline_.reset();
  response_timer_.cancel();
  phase_timer_.expires_after(delay);
  phase_timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec) send_probe();
  });
}

void MdnsResponder::send_probe() {
  if (probes_sent_ >= kProbeCount) {
    begin_announcing();
    return;
  }
  send(core_->probe());
  ++probes_sent_;
  phase_timer_.expires_after(kProbeInterval);
  phase_timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec) send_probe();
  });
}

void MdnsResponder::begin_announcing() {
  phase_ = Phase::announcing;
  announcements_sent_ = 0;
  announce_gap_ = milliseconds(1000);
  phase_timer_.cancel();
  send_announcement();
}

void MdnsResponder::send_announcement() {
  send(core_->announcement(DiscoveryClock::now()));
  announced_ = true;
  if (++announcements_sent_ >= config_.announcements) {
    phase_ = Phase::steady;
    return;
  }
  // RFC 6762 §8.3: at least one second apart, the gap at least doubling each time.
  phase_timer_.expires_after(announce_gap_);
  announce_gap_ *= 2;
  phase_timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec) send_announcement();
  });
}

void MdnsResponder::schedule_multicast(const std::vector<ResourceRecord>& answers, milliseconds delay) {
  for (const auto& r : answers) {
    bool present = false;
    for (const auto& p : pending_answers_) present = present || p.same_record(r);
    if (!present) pending_answers_.push_back(r);
  }
  const TimePoint deadline = DiscoveryClock::now() + delay;
  if (pending_deadline_ && *pending_deadline_ <= deadline) return;  // an earlier send is armed
  pending_deadline_ = deadline;
  response_timer_.expires_at(deadline);
  response_timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec) flush_pending();
  });
}

void MdnsResponder::flush_pending() {
  auto answers = std::move(pending_answers_);
  pending_answers_.clear();
  pending_deadline_.reset();
  if (phase_ != Phase::announcing && phase_ != Phase::steady) return;
  if (auto m = core_->multicast_response(answers, DiscoveryClock::now(), false)) send(*m);
}

void MdnsResponder::handle_conflict() {
  ++conflict_attempt_;
  const std::string old_name = current_name();
  const std::string new_name = next_conflict_name(original_name_, conflict_attempt_);
  spdlog::warn("mdns: another host already uses the name '{}'; renaming to '{}'", old_name, new_name);
  {
    std::lock_guard lock(mutex_);
    current_name_ = new_name;
  }
  // No goodbye for the old name: its records now belong to the other host.
  announced_ = false;
  previous_core_.reset();
  rebuild_records();
  if (on_renamed) on_renamed(new_name);
  begin_probing(conflict_attempt_ > 15 ? kManyConflictsWait : milliseconds(0));
}

}  // namespace baton::discovery
