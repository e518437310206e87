#include "tools/soak/hostile_load.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <kj/async-io.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "node/stage/process_memory.h"
#include "tools/completion_stream.h"
#include "transport/open_files.h"
#include "transport/rpc_peer.h"

namespace baton::soak {

namespace {

using clock_type = std::chrono::steady_clock;
constexpr double kJoinTargetMs = 100;

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

// A non-blocking TCP connection from a loopback source address (so per-source limits see
// many sources, as a LAN of attackers would be); -1 if the socket cannot be made.
int connect_from(int source_index, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(0x7f000000u | static_cast<uint32_t>(10 + source_index % 240) << 8 |
                              static_cast<uint32_t>(1 + source_index / 240 % 250));
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0 ||
      (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0 && errno != EINPROGRESS)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Connections held open against a server the way an attacker would hold them: `Idle`
// ones never say a word, `SlowHttp` ones send a request line and then one header line a
// second, never finishing the head. One thread (owned, joined) tends them and reconnects
// every one the server hangs up on, so the load stays at `count` for as long as it runs.
class ConnectionFlood {
 public:
  enum class Kind { Idle, SlowHttp };
  ConnectionFlood(Kind kind, int port, int count, int first_source)
      : kind_(kind), port_(port), first_source_(first_source), fds_(static_cast<size_t>(count), -1),
        started_line_(static_cast<size_t>(count), false) {
    for (size_t i = 0; i < fds_.size(); ++i) open(i);
    thread_ = std::thread([this] { tend(); });
  }
  ~ConnectionFlood() {
    stop_ = true;
    thread_.join();
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  int opened() const { return opened_.load(); }
  int cut_off() const { return cut_off_.load(); }

 private:
  void open(size_t i) {
    fds_[i] = connect_from(first_source_ + static_cast<int>(i), port_);
    started_line_[i] = false;
    if (fds_[i] >= 0) ++opened_;
  }
  // False once the server closed the connection (what it said before is read and dropped).
  bool still_open(int fd) {
    char sink[4096];
    for (;;) {
      const ssize_t n = ::recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
      if (n > 0) continue;
      if (n == 0) return false;
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN || errno == EINPROGRESS;
    }
  }
  void tend() {
    for (uint64_t tick = 0; !stop_; ++tick) {
      const bool dribble = kind_ == Kind::SlowHttp && tick % 4 == 0;  // once a second
      for (size_t i = 0; i < fds_.size() && !stop_; ++i) {
        if (fds_[i] >= 0 && !still_open(fds_[i])) {
          ::close(fds_[i]);
          fds_[i] = -1;
          ++cut_off_;
        }
        if (fds_[i] < 0) {
          open(i);
          continue;
        }
        if (!dribble) continue;
        const std::string piece =
            started_line_[i] ? std::string("X-Slow: 1\r\n") : std::string("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        if (::send(fds_[i], piece.data(), piece.size(), MSG_NOSIGNAL | MSG_DONTWAIT) > 0) started_line_[i] = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }

  Kind kind_;
  int port_;
  int first_source_;
  std::vector<int> fds_;
  std::vector<bool> started_line_;
  std::atomic<bool> stop_{false};
  std::atomic<int> opened_{0}, cut_off_{0};
  std::thread thread_;
};

// Keeps the cluster's pipes flowing while the main thread measures (the only thread that
// touches the child processes meanwhile).
class OutputDrainer {
 public:
  explicit OutputDrainer(SoakCluster& cluster) : thread_([this, &cluster] {
    while (!stop_) {
      cluster.drain_output();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }) {}
  ~OutputDrainer() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

double rss_mib(int pid) { return static_cast<double>(read_process_memory(pid).rss_bytes) / (1024.0 * 1024.0); }

Figures measure(SoakCluster& cluster, const HostileLoadOptions& o, kj::AsyncIoContext& io) {
  Figures f;
  httplib::Client client("127.0.0.1", cluster.http_port());
  client.set_read_timeout(120, 0);
  client.set_connection_timeout(10, 0);
  const cli::StreamedCompletion s = cli::stream_completion(
      client, "/v1/completions", {{"prompt", o.prompt}, {"max_tokens", o.max_tokens}, {"temperature", 0}});
  f.stream_ok = s.complete();
  f.stream_error = s.failure();
  f.text = s.text;
  f.streams = 1;
  f.ttft_ms = s.first_ms.value_or(0);
  for (int i = 0; i < o.joins; ++i) {
    const auto t0 = clock_type::now();
    try {
      dial_and_join(*io.provider, cluster.node_address(0), cluster.secret(), "observer").wait(io.waitScope);
      f.join_ms.push_back(ms_since(t0));
    } catch (const kj::Exception&) {
      ++f.joins_failed;
    }
  }
  f.health_probes = o.health_probes;
  for (int i = 0; i < o.health_probes; ++i) {
    httplib::Client h("127.0.0.1", cluster.http_port());
    h.set_connection_timeout(5, 0);
    h.set_read_timeout(5, 0);
    const auto t0 = clock_type::now();
    const auto res = h.Get("/health");
    if (res && res->status == 200) {
      ++f.health_ok;
      f.health_max_ms = std::max(f.health_max_ms, ms_since(t0));
    }
  }
  f.node_rss_mib = rss_mib(cluster.node(0).pid());
  f.coordinator_rss_mib = rss_mib(cluster.coordinator().pid());
  return f;
}

// Several rounds as one: every join and probe counted, the worst of each figure.
void merge(Figures& into, const Figures& round) {
  if (into.streams == 0) {
    into = round;
    return;
  }
  into.same_text = into.same_text && round.text == into.text && round.same_text;
  if (!round.stream_ok && into.stream_ok) into.stream_error = round.stream_error;
  into.stream_ok = into.stream_ok && round.stream_ok;
  into.streams += round.streams;
  into.ttft_ms = std::max(into.ttft_ms, round.ttft_ms);
  into.join_ms.insert(into.join_ms.end(), round.join_ms.begin(), round.join_ms.end());
  into.joins_failed += round.joins_failed;
  into.health_ok += round.health_ok;
  into.health_probes += round.health_probes;
  into.health_max_ms = std::max(into.health_max_ms, round.health_max_ms);
  into.node_rss_mib = std::max(into.node_rss_mib, round.node_rss_mib);
  into.coordinator_rss_mib = std::max(into.coordinator_rss_mib, round.coordinator_rss_mib);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double max_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }

}  // namespace

HostileLoadReport run_hostile_load(SoakCluster& cluster, const HostileLoadOptions& o) {
  raise_open_file_limit();
  auto io = kj::setupAsyncIo();
  HostileLoadReport r;
  r.options = o;
  r.quiet = measure(cluster, o, io);
  {
    OutputDrainer drainer(cluster);
    const std::string node = cluster.node_address(0);
    ConnectionFlood idle(ConnectionFlood::Kind::Idle, std::stoi(node.substr(node.rfind(':') + 1)), o.idle_connections, 0);
    ConnectionFlood slow(ConnectionFlood::Kind::SlowHttp, cluster.http_port(), o.slow_http_clients,
                         o.idle_connections);
    std::this_thread::sleep_for(std::chrono::seconds(1));  // let the load settle in
    for (int i = 0; i < o.rounds; ++i) merge(r.loaded, measure(cluster, o, io));
    r.idle_opened = idle.opened();
    r.idle_cut_off = idle.cut_off();
    r.slow_opened = slow.opened();
    r.slow_cut_off = slow.cut_off();
  }
  r.processes_alive = cluster.coordinator().running();
  for (size_t i = 0; i < cluster.size(); ++i) r.processes_alive = r.processes_alive && cluster.node(i).running();
  return r;
}

bool targets_held(const HostileLoadReport& r) {
  const Figures& q = r.quiet;
  const Figures& l = r.loaded;
  return r.processes_alive && q.stream_ok && l.stream_ok && l.same_text && l.text == q.text && l.joins_failed == 0 &&
         median(l.join_ms) < kJoinTargetMs && l.health_ok == l.health_probes &&
         l.node_rss_mib < 2 * q.node_rss_mib && l.coordinator_rss_mib < 2 * q.coordinator_rss_mib;
}

std::string render(const HostileLoadReport& r) {
  const Figures& q = r.quiet;
  const Figures& l = r.loaded;
  std::string out;
  out += fmt::format("hostile load, held while measuring: {} idle connections to a node ({} made, {} cut off by it and "
                     "made again), {} slow HTTP clients ({} made, {} cut off by the coordinator)\n",
                     r.options.idle_connections, r.idle_opened, r.idle_cut_off, r.options.slow_http_clients,
                     r.slow_opened, r.slow_cut_off);
  out += fmt::format("{:<34} {:>14} {:>14}\n", "", "quiet", "under load");
  auto stream = [](const Figures& f) {
    return f.stream_ok ? fmt::format("{} chars", f.text.size()) : std::string("FAILED");
  };
  out += fmt::format("{:<34} {:>14} {:>14}\n", "greedy stream", stream(q), stream(l));
  out += fmt::format("{:<34} {:>14} {:>14}\n", "  streams", q.streams, l.streams);
  out += fmt::format("{:<34} {:>14} {:>14}\n", "  same text as quiet", "", l.same_text && l.text == q.text ? "yes" : "NO");
  out += fmt::format("{:<34} {:>14.1f} {:>14.1f}\n", "  first token, slowest (ms)", q.ttft_ms, l.ttft_ms);
  out += fmt::format("{:<34} {:>14.1f} {:>14.1f}\n", "legitimate join, median (ms)", median(q.join_ms), median(l.join_ms));
  out += fmt::format("{:<34} {:>14.1f} {:>14.1f}\n", "legitimate join, max (ms)", max_of(q.join_ms), max_of(l.join_ms));
  out += fmt::format("{:<34} {:>14} {:>14}\n", "joins failed", q.joins_failed, l.joins_failed);
  out += fmt::format("{:<34} {:>14} {:>14}\n", "/health answered",
                     fmt::format("{}/{}", q.health_ok, q.health_probes), fmt::format("{}/{}", l.health_ok, l.health_probes));
  out += fmt::format("{:<34} {:>14.1f} {:>14.1f}\n", "/health slowest (ms)", q.health_max_ms, l.health_max_ms);
  out += fmt::format("{:<34} {:>14.1f} {:>14.1f}\n", "node RSS, largest (MiB)", q.node_rss_mib, l.node_rss_mib);
  out += fmt::format("{:<34} {:>14.1f} {:>14.1f}\n", "coordinator RSS, largest (MiB)", q.coordinator_rss_mib,
                     l.coordinator_rss_mib);
  if (!l.stream_ok) out += fmt::format("the stream under load failed: {}\n", l.stream_error);
  out += fmt::format("processes alive afterwards: {}\n", r.processes_alive ? "all" : "NO");
  out += fmt::format("targets (join < {:.0f} ms, /health answering, same text, RSS < 2x): {}\n", kJoinTargetMs,
                     targets_held(r) ? "held" : "NOT held");
  return out;
}

}  // namespace baton::soak
