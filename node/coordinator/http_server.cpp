#include "node/coordinator/http_server.h"

#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace baton {

namespace {

using Clock = std::chrono::steady_clock;

void endpoint_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  const int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                      : getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (rc != 0) return;
  char host[NI_MAXHOST];
  char serv[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof(host), serv, sizeof(serv),
                  NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(serv);
  }
}

std::string endpoint_key(const std::string& ip, int port) { return fmt::format("{}:{}", ip, port); }

}  // namespace

// --- ElasticWorkerPool -------------------------------------------------------------

ElasticWorkerPool::ElasticWorkerPool(size_t max_threads) : max_threads_(std::max<size_t>(1, max_threads)) {}

ElasticWorkerPool::~ElasticWorkerPool() { shutdown(); }

void ElasticWorkerPool::enqueue(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mutex_);
  jobs_.push_back(std::move(fn));
  // A new thread only when nobody idle can take the job: slow clients each hold one.
  if (idle_ < jobs_.size() && threads_.size() < max_threads_) {
    threads_.emplace_back([this] { work(); });
  }
  ready_.notify_one();
}

void ElasticWorkerPool::shutdown() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  ready_.notify_all();
  for (auto& t : threads) t.join();
}

size_t ElasticWorkerPool::threads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return threads_.size();
}

void ElasticWorkerPool::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ++idle_;
      ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) return;  // stopping, nothing left
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

// --- ConnectionStream --------------------------------------------------------------

ConnectionStream::ConnectionStream(int fd, std::chrono::milliseconds io_timeout)
    : fd_(fd), io_timeout_(io_timeout), deadline_(Clock::now()), buffer_(4096) {}

void ConnectionStream::limit_reads(Clock::time_point deadline, size_t budget) {
  deadline_ = deadline;
  budget_ = budget;
  limit_hit_ = ReadLimit::None;
}

int ConnectionStream::poll_for(short events, std::chrono::milliseconds timeout) const {
  pollfd p{fd_, events, 0};
  for (;;) {
    const int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, timeout.count())));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return rc;
    return p.revents;
  }
}

bool ConnectionStream::wait_readable(std::chrono::milliseconds timeout, const std::function<bool()>& stop) const {
  const auto until = Clock::now() + timeout;
  // In slices, so a stopping server does not wait out idle keep-alive connections.
  while (!stop()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) return false;
    const int ev = poll_for(POLLIN, std::min(left, std::chrono::milliseconds(100)));
    if (ev < 0) return false;
    if (ev > 0) return (ev & POLLIN) != 0;
  }
  return false;
}

bool ConnectionStream::peer_closed() const {
  const int ev = poll_for(POLLIN | POLLRDHUP, std::chrono::milliseconds(0));
  if (ev < 0) return true;
  if (ev & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
  if (ev & POLLIN) {
    char c;
    return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }
  return false;
}

bool ConnectionStream::is_readable() const {
  if (buffer_begin_ < buffer_end_) return true;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
  if (left.count() <= 0) return false;
  const int ev = poll_for(POLLIN, std::min(left, io_timeout_));
  return ev > 0 && (ev & (POLLIN | POLLHUP)) != 0;
}

bool ConnectionStream::is_writable() const {
  const int ev = poll_for(POLLOUT, io_timeout_);
  return ev > 0 && (ev & POLLOUT) != 0 && !peer_closed();
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (size == 0) return 0;
  if (buffer_begin_ == buffer_end_) {
    if (budget_ == 0) {
      limit_hit_ = ReadLimit::Budget;
      return -1;
    }
    if (Clock::now() >= deadline_ || !is_readable()) {
      if (Clock::now() >= deadline_) limit_hit_ = ReadLimit::Deadline;
      return -1;
    }
    ssize_t n;
    do {
      n = ::recv(fd_, buffer_.data(), std::min(buffer_.size(), budget_), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return n;
    buffer_begin_ = 0;
    buffer_end_ = static_cast<size_t>(n);
    budget_ -= static_cast<size_t>(n);
  }
  const size_t n = std::min(size, buffer_end_ - buffer_begin_);
  std::memcpy(ptr, buffer_.data() + buffer_begin_, n);
  buffer_begin_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  if (poll_for(POLLOUT, io_timeout_) <= 0) return -1;
  ssize_t n;
  do {
    n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

void ConnectionStream::linger() {
  // Closing with unread data makes the kernel send a reset, which can overtake the reply
  // we just wrote; so stop writing, then read and drop what the client still sends (bounded).
  ::shutdown(fd_, SHUT_WR);
  const auto until = Clock::now() + std::chrono::seconds(2);
  size_t drained = 0;
  char sink[4096];
  while (drained < (4u << 20) && Clock::now() < until) {
    if (poll_for(POLLIN, std::chrono::milliseconds(100)) <= 0) continue;
    const ssize_t n = ::recv(fd_, sink, sizeof(sink), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;
    if (n > 0) drained += static_cast<size_t>(n);
  }
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const { endpoint_of(fd_, true, ip, port); }

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const { endpoint_of(fd_, false, ip, port); }

// --- BoundedHttpServer -------------------------------------------------------------

BoundedHttpServer::BoundedHttpServer(HttpLimits limits) : limits_(limits) {
  const size_t workers = limits_.max_workers;
  new_task_queue = [workers] { return new ElasticWorkerPool(workers); };
  set_payload_max_length(limits_.max_body_bytes);
  keep_alive_max_count_ = std::max<size_t>(1, limits_.keep_alive_requests);
}

int BoundedHttpServer::bind(const std::string& host, int port) {
  const int bound = port == 0 ? bind_to_any_port(host) : (bind_to_port(host, port) ? port : -1);
  if (bound > 0) ::listen(svr_sock_, SOMAXCONN);  // on a listening socket: only the backlog changes
  return bound;
}

bool BoundedHttpServer::process_and_close_socket(int sock) {
  Connection conn{ConnectionStream(sock, std::chrono::milliseconds(5'000))};
  std::string ip;
  int port = 0;
  conn.stream.get_remote_ip_and_port(ip, port);
  const std::string key = endpoint_key(ip, port);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    connections_[key] = &conn;
  }
  const auto stopping = [this] { return svr_sock_ == INVALID_SOCKET; };
  // The wire may carry up to 4x the decoded body in chunk framing, plus the headers
  // of the chunked trailer; beyond that it is not a body worth reading.
  const size_t body_wire_budget = 4 * limits_.max_body_bytes + limits_.max_head_bytes;
  bool ok = false;
  for (size_t served = 0; served < keep_alive_max_count_; ++served) {
    if (!conn.stream.wait_readable(limits_.idle_timeout, stopping)) break;
    conn.stream.limit_reads(Clock::now() + limits_.head_timeout, limits_.max_head_bytes);
    bool closed = false;
    ok = process_request(conn.stream, served + 1 == keep_alive_max_count_, closed, [&](httplib::Request&) {
      conn.stream.limit_reads(Clock::now() + limits_.body_timeout, body_wire_budget);
    });
    if (conn.stream.limit_hit() != ReadLimit::None) {
      spdlog::debug("HTTP {}: connection closed ({})", key,
                    conn.stream.limit_hit() == ReadLimit::Deadline ? "too slow" : "too much data");
    }
    if (!ok || closed || conn.close_after || conn.stream.limit_hit() != ReadLimit::None) break;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.erase(key);
  }
  if (conn.close_after) conn.stream.linger();
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

BoundedHttpServer::Connection* BoundedHttpServer::find(const httplib::Request& req) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = connections_.find(endpoint_key(req.remote_addr, req.remote_port));
  return it == connections_.end() ? nullptr : it->second;
}

bool BoundedHttpServer::client_gone(const httplib::Request& req) const {
  const Connection* c = find(req);
  return c != nullptr && c->stream.peer_closed();
}

void BoundedHttpServer::close_after_response(const httplib::Request& req) {
  if (Connection* c = find(req)) c->close_after = true;
}

ReadLimit BoundedHttpServer::body_limit_hit(const httplib::Request& req) const {
  const Connection* c = find(req);
  return c == nullptr ? ReadLimit::None : c->stream.limit_hit();
}

BodyRead read_bounded_body(BoundedHttpServer& server, const httplib::Request& req,
                           const httplib::ContentReader& reader) {
  const size_t limit = server.limits().max_body_bytes;
  BodyRead out;
  const auto too_large = [&] {
    server.close_after_response(req);  // the rest of the body is still on the wire
    out.status = 413;
    out.message = fmt::format("the request body is larger than {} bytes (after decoding)", limit);
    return out;
  };
  if (req.has_header("Content-Length")) {
    const std::string len = req.get_header_value("Content-Length");
    if (len.size() > 19 || std::strtoull(len.c_str(), nullptr, 10) > limit) return too_large();
  }
  std::string body;
  bool over = false;
  const bool complete = reader([&](const char* data, size_t n) {
    if (body.size() + n > limit) {
      over = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (over) return too_large();
  if (!complete) {
    server.close_after_response(req);
    switch (server.body_limit_hit(req)) {
      case ReadLimit::Deadline:
        out.status = 408;
        out.message = fmt::format("the request body did not arrive within {} s",
                                  std::chrono::duration<double>(server.limits().body_timeout).count());
        break;
      case ReadLimit::Budget:
        return too_large();
      case ReadLimit::None:
        out.status = 400;
        out.message = "the request body is malformed (bad chunked framing or compressed data) or was cut off";
        break;
    }
    return out;
  }
  out.body = std::move(body);
  return out;
}

}  // namespace baton
