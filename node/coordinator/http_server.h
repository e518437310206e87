// cpp-httplib's server with every door bounded. The library reads a request with a 5 s
// timeout per read but no deadline, grows a header line until its newline arrives, caps
// only Content-Length bodies (chunked and gzip bodies grow without limit) and serves
// connections from a fixed pool of 8 threads, so a handful of clients dribbling headers
// silence the API. Here each connection runs on our own socket stream:
//   - the request line and headers must arrive within `head_timeout` and `max_head_bytes`;
//   - the body within `body_timeout` and a wire-byte budget (chunk framing included);
//   - sockets are polled (no select(), so descriptors above 1024 are fine);
//   - workers grow on demand up to `max_workers`, so slow clients wait on their own
//     thread while /health keeps answering.
// Handlers count decoded body bytes themselves (read_bounded_body) and can ask whether
// their client is still there (client_gone) while they wait for a generation.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "node/coordinator/http_limits.h"

namespace baton {

// Threads created when every existing one is busy, up to a cap; joined on shutdown.
class ElasticWorkerPool : public httplib::TaskQueue {
 public:
  explicit ElasticWorkerPool(size_t max_threads);
  ~ElasticWorkerPool() override;
  void enqueue(std::function<void()> fn) override;
  void shutdown() override;  // runs what is queued, then joins every thread
  size_t threads() const;

 private:
  void work();

  const size_t max_threads_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stopping_ = false;
};

// Why a connection's reads stopped early.
enum class ReadLimit { None, Deadline, Budget };

// One accepted socket, read with a deadline and a byte budget per phase.
class ConnectionStream : public httplib::Stream {
 public:
  ConnectionStream(int fd, std::chrono::milliseconds io_timeout);

  // Starts a phase: reads fail once `budget` bytes were read or `deadline` passed.
  void limit_reads(std::chrono::steady_clock::time_point deadline, size_t budget);
  ReadLimit limit_hit() const { return limit_hit_; }
  // Waits up to `timeout` for the next request's first byte; false on timeout or close.
  bool wait_readable(std::chrono::milliseconds timeout, const std::function<bool()>& stop) const;
  // The peer closed its end (or reset): nobody will read what we would write.
  bool peer_closed() const;
  // Half-closes and drains what the client still sends for a moment, so the reply written
  // before an early close reaches it.
  void linger();

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  int socket() const override { return fd_; }

 private:
  int poll_for(short events, std::chrono::milliseconds timeout) const;

  int fd_;
  std::chrono::milliseconds io_timeout_;
  std::chrono::steady_clock::time_point deadline_;
  size_t budget_ = 0;
  ReadLimit limit_hit_ = ReadLimit::None;
  std::vector<char> buffer_;
  size_t buffer_begin_ = 0;
  size_t buffer_end_ = 0;
};

class BoundedHttpServer : public httplib::Server {
 public:
  explicit BoundedHttpServer(HttpLimits limits);
  const HttpLimits& limits() const { return limits_; }
  // Binds (port 0: any free port) with a deep accept queue: the library listens with a
  // backlog of 5, so a burst of connections would wait out SYN retries (1 s, 3 s...).
  // Returns the port, or -1.
  int bind(const std::string& host, int port);

  // For handlers, about the connection their request came on.
  bool client_gone(const httplib::Request& req) const;
  void close_after_response(const httplib::Request& req);
  ReadLimit body_limit_hit(const httplib::Request& req) const;

 private:
  struct Connection {
    ConnectionStream stream;
    bool close_after = false;
  };
  bool process_and_close_socket(int sock) override;
  Connection* find(const httplib::Request& req) const;

  HttpLimits limits_;
  mutable std::mutex mutex_;
  std::map<std::string, Connection*> connections_;  // by "remote ip:port"
};

// What read_bounded_body found.
struct BodyRead {
  std::optional<std::string> body;  // set when complete and within the limit
  int status = 0;                   // otherwise: 413 (too large), 408 (too slow), 400 (malformed)
  std::string message;
};

// Reads the (possibly chunked, gzip or deflate coded) body, counting decoded bytes against
// the server's limit as they arrive.
BodyRead read_bounded_body(BoundedHttpServer& server, const httplib::Request& req,
                           const httplib::ContentReader& reader);

}  // namespace baton
