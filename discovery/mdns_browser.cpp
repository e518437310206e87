#include "discovery/mdns_browser.h"
#include "discovery/io_thread.h"


#include <asio/post.hpp>
#include <spdlog/spdlog.h>

namespace baton::discovery {
namespace {

using std::chrono::milliseconds;
// Known answers beyond this many bytes are left out rather than splitting the query over
// several packets with the TC bit; a baton cluster stays far below it.
constexpr std::size_t kMaxQueryBytes = 1400;

}  // namespace

MdnsBrowser::MdnsBrowser(BrowserConfig config)
    : config_(std::move(config)),
      rng_(config_.seed != 0 ? config_.seed : std::random_device{}()),
      table_([&] {
        PeerTable::Options o = config_.table;
        o.seed = config_.seed != 0 ? config_.seed : std::random_device{}();
        return o;
      }()) {
  if (config_.max_query_interval < milliseconds(1000))
    throw std::invalid_argument("max query interval must be at least one second");
}

MdnsBrowser::~MdnsBrowser() { stop(); }

void MdnsBrowser::start(EventHandler on_event) {
  if (started_) return;
  std::string error;
  auto interface = choose_interface(list_ipv4_interfaces(), config_.interface, error);
  if (!interface) throw std::invalid_argument("mDNS browser: " + error);
  socket_ = std::make_unique<MdnsSocket>(io_, *interface, config_.mdns_port);
  on_event_ = std::move(on_event);
  const auto now = DiscoveryClock::now();
  std::vector<PeerEvent> static_events;
  {
    std::lock_guard lock(mutex_);
    static_events = table_.add_static_peers(config_.static_peers, now);
  }
  asio::post(io_, [this, static_events] { deliver(static_events); });
  socket_->start([this](const ReceivedPacket& p) { on_packet(p); });
  // RFC 6762 §5.2: the first query goes after a random 20-120 ms delay.
  next_service_query_ = now + milliseconds(std::uniform_int_distribution<int>(20, 120)(rng_));
  query_interval_ = milliseconds(1000);
  asio::post(io_, [this] { on_tick(); });
  started_ = true;
  spdlog::info("mdns: browsing for _baton._tcp on {} ({})", interface->name, interface->address.to_string());
  thread_ = std::thread([this] {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("mdns browser: {}", e.what());
      }
    }
  });
}

void MdnsBrowser::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  finish_on_io_thread(io_, thread_, [this] {
    tick_timer_.cancel();
    socket_->close();
  });
}

std::vector<PeerEntry> MdnsBrowser::peers() const {
  std::lock_guard lock(mutex_);
  return table_.snapshot();
}

void MdnsBrowser::add_static_peers(const std::vector<StaticPeer>& peers) {
  std::vector<PeerEvent> events;
  {
    std::lock_guard lock(mutex_);
    events = table_.add_static_peers(peers, DiscoveryClock::now());
  }
  if (started_ && !stopped_) asio::post(io_, [this, events] { deliver(events); });
}

void MdnsBrowser::query_now() {
  asio::post(io_, [this] {
    query_interval_ = milliseconds(1000);
    next_service_query_ = DiscoveryClock::now();
  });
}

void MdnsBrowser::deliver(const std::vector<PeerEvent>& events) {
  for (const auto& e : events) {
    spdlog::debug("mdns: peer {} {} ({}:{})", e.peer.name, to_string(e.kind),
                  e.peer.address ? e.peer.address->to_string() : "?", e.peer.port);
    if (on_event_) on_event_(e);
  }
}

void MdnsBrowser::on_packet(const ReceivedPacket& packet) {
  DnsParseResult parsed = parse_dns_message(packet.data);
  if (!parsed) {
    spdlog::debug("mdns: dropped packet from {}:{}: {}", packet.source.address().to_string(), packet.source.port(),
                  parsed.failure().describe());
    return;
  }
  const DnsMessage& message = parsed.message();
  // RFC 6762 §6: responses not from the mDNS port are not trustworthy mDNS answers.
  if (!message.is_response() || packet.source.port() != config_.mdns_port) return;
  std::vector<PeerEvent> events;
  {
    std::lock_guard lock(mutex_);
    events = table_.observe_response(message, DiscoveryClock::now());
  }
  deliver(events);
}

void MdnsBrowser::on_tick() {
  const auto now = DiscoveryClock::now();
  std::vector<PeerEvent> events;
  std::vector<Question> questions;
  {
    std::lock_guard lock(mutex_);
    events = table_.advance(now);
    questions = table_.due_queries(now);
  }
  deliver(events);
  bool service_query = false;
  if (now >= next_service_query_) {
    service_query = true;
    next_service_query_ = now + query_interval_;
    query_interval_ = std::min(query_interval_ * 2, config_.max_query_interval);
  }
  if (service_query || !questions.empty()) send_queries(std::move(questions), service_query);
  tick_timer_.expires_after(config_.tick);
  tick_timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec) on_tick();
  });
}

void MdnsBrowser::send_queries(std::vector<Question> questions, bool include_service_query) {
  DnsMessage query;
  const Question service{baton_service_name(), dns_type::PTR, kClassIn, false};
  bool has_ptr = false;
  for (const auto& q : questions) has_ptr = has_ptr || (q.type == dns_type::PTR && q.name == service.name);
  if (include_service_query && !has_ptr) questions.insert(questions.begin(), service);
  query.questions = std::move(questions);
  if (include_service_query) {
    // Known-answer suppression: list the PTRs we hold with over half their TTL left so
    // their owners stay quiet. A refresh query (PTR due at 80%) lists nothing for that PTR
    // since its TTL is by then below half.
    std::vector<ResourceRecord> known;
    {
      std::lock_guard lock(mutex_);
      known = table_.known_answers(DiscoveryClock::now());
    }
    std::size_t bytes = 12;
    for (const auto& q : query.questions) bytes += q.name.wire_length() + 4;
    for (auto& r : known) {
      const std::size_t size = r.name.wire_length() + 10 + std::get<PtrRecordData>(r.data).target.wire_length();
      if (bytes + size > kMaxQueryBytes) break;
      bytes += size;
      query.answers.push_back(std::move(r));
    }
  }
  try {
    socket_->send_multicast(write_dns_message(query));
  } catch (const std::invalid_argument& e) {
    spdlog::error("mdns: could not encode a query: {}", e.what());
  }
}

}  // namespace baton::discovery
