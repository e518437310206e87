// The bounded HTTP server on real sockets (127.0.0.1): chunked and gzip bodies counted as
// they are read, slow header senders cut off without starving other clients, oversized
// heads refused, and a handler that sees its client hang up.
#include "node/coordinator/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace baton {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class TestServer {
 public:
  explicit TestServer(HttpLimits limits) : server(limits) {
    server.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    server.Post("/echo", [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& r) {
      BodyRead body = read_bounded_body(server, req, r);
      if (!body.body) {
        res.status = body.status;
        res.set_content(body.message, "text/plain");
        return;
      }
      largest_body = std::max(largest_body.load(), body.body->size());
      res.set_content(std::to_string(body.body->size()), "text/plain");
    });
    server.Get("/wait", [this](const httplib::Request& req, httplib::Response& res) {
      // Gives up after a generous bound; saw_hang_up says which ended the wait.
      const auto start = Clock::now();
      bool gone = false;
      while (Clock::now() - start < 60s && !(gone = server.client_gone(req))) std::this_thread::sleep_for(10ms);
      saw_hang_up = gone;
      gone_after_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
      res.set_content("late", "text/plain");
    });
    port = server.bind("127.0.0.1", 0);
    thread = std::thread([this] { server.listen_after_bind(); });
    for (int i = 0; i < 500 && !server.is_running(); ++i) std::this_thread::sleep_for(2ms);
  }
  ~TestServer() {
    server.stop();
    thread.join();
  }
  BoundedHttpServer server;
  int port = 0;
  std::thread thread;
  std::atomic<size_t> largest_body{0};
  std::atomic<int64_t> gone_after_ms{-1};
  std::atomic<bool> saw_hang_up{false};
};

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return fd;
}

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) > 0;
}

// Reads what the server answered (up to `timeout`), "" if it closed without a word.
std::string read_reply(int fd, std::chrono::milliseconds timeout = 3000ms) {
  std::string out;
  const auto until = Clock::now() + timeout;
  char buf[4096];
  while (Clock::now() < until && readable(fd, 100)) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Sends `head` then body pieces from `next` until the server answers or stops reading;
// returns the reply and how many body bytes went out.
std::pair<std::string, size_t> send_until_answered(int port, const std::string& head,
                                                   const std::function<std::string()>& next, size_t max_bytes) {
  const int fd = connect_to(port);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  size_t sent = 0;
  std::string reply;
  while (sent < max_bytes) {
    if (readable(fd, 0)) break;
    const std::string piece = next();
    if (piece.empty()) break;
    const ssize_t n = ::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  reply = read_reply(fd);
  ::close(fd);
  return {reply, sent};
}

HttpLimits small_limits() {
  HttpLimits l;
  l.max_body_bytes = 64 * 1024;
  l.head_timeout = 1500ms;
  l.body_timeout = 3000ms;
  return l;
}

TEST(BoundedHttpServer, ChunkedBodyIsCountedAsItArrives) {
  TestServer t(small_limits());
  const std::string chunk = "1000\r\n" + std::string(4096, 'x') + "\r\n";
  auto [reply, sent] = send_until_answered(
      t.port, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", [&] { return chunk; },
      100u << 20);
  EXPECT_NE(reply.find("413"), std::string::npos) << reply.substr(0, 200);
  // It stopped reading near the limit, not after 100 MiB (socket buffers hold a few MiB).
  EXPECT_LT(sent, 16u << 20);
  EXPECT_EQ(t.largest_body.load(), 0u);

  // Within the limit, chunked works.
  httplib::Client c("127.0.0.1", t.port);
  auto small = c.Post("/echo", [](size_t, httplib::DataSink& sink) {  // no length: sent chunked
    sink.write(std::string(1000, 'y').data(), 1000);
    sink.done();
    return true;
  }, "text/plain");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->body, "1000");
}

TEST(BoundedHttpServer, CompressedBodyIsCountedAfterDecoding) {
  TestServer t(small_limits());
  // 16 MiB of zeros squeeze into ~16 KiB of gzip, well under the 64 KiB limit on the wire:
  // a bomb if the server inflated it all before counting.
  std::string gz;
  httplib::detail::gzip_compressor z;
  const std::string zeros(1 << 20, '\0');
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(z.compress(zeros.data(), zeros.size(), i == 15, [&](const char* d, size_t n) {
      gz.append(d, n);
      return true;
    }));
  }
  ASSERT_LT(gz.size(), 32u * 1024);
  httplib::Client c("127.0.0.1", t.port);
  httplib::Headers h = {{"Content-Encoding", "gzip"}};
  auto r = c.Post("/echo", h, gz, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(t.largest_body.load(), 0u);
  // A small gzip body is decoded.
  std::string small;
  httplib::detail::gzip_compressor z2;
  const std::string text = R"({"prompt":"hello"})";
  ASSERT_TRUE(z2.compress(text.data(), text.size(), true, [&](const char* d, size_t n) {
    small.append(d, n);
    return true;
  }));
  auto ok = c.Post("/echo", h, small, "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, std::to_string(text.size()));
}

TEST(BoundedHttpServer, ContentLengthBeyondTheLimitIsRefusedUnread) {
  TestServer t(small_limits());
  auto [reply, sent] = send_until_answered(
      t.port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n",
      [] { return std::string(4096, 'z'); }, 100u << 20);
  EXPECT_NE(reply.find("413"), std::string::npos) << reply.substr(0, 200);
  EXPECT_LT(sent, 16u << 20);
}

TEST(BoundedHttpServer, SlowHeaderSendersDoNotStarveOthers) {
  TestServer t(small_limits());
  std::vector<int> slow;
  for (int i = 0; i < 100; ++i) {
    const int fd = connect_to(t.port);
    ASSERT_GE(fd, 0);
    slow.push_back(fd);
  }
  // Each sends its request one byte at a time, forever.
  std::atomic<bool> stop{false};
  std::thread dribble([&] {
    const std::string head = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    for (size_t i = 0; !stop.load(); ++i) {
      for (int fd : slow) ::send(fd, i < head.size() ? &head[i] : "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      std::this_thread::sleep_for(100ms);
    }
  });
  std::this_thread::sleep_for(300ms);
  httplib::Client c("127.0.0.1", t.port);
  c.set_connection_timeout(2, 0);
  c.set_read_timeout(2, 0);
  for (int i = 0; i < 3; ++i) {
    const auto start = Clock::now();
    auto r = c.Get("/health");
    ASSERT_TRUE(r) << "health check " << i << " got no answer while 100 clients dribble headers";
    EXPECT_EQ(r->body, "ok");
    EXPECT_LT(Clock::now() - start, 1s);
  }
  // The dribblers are cut off at the head deadline (1.5 s), whatever they keep sending.
  std::this_thread::sleep_for(2500ms);
  int closed = 0;
  for (int fd : slow) {
    char buf[512];
    while (readable(fd, 0)) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n <= 0) {
        ++closed;
        break;
      }
    }
  }
  stop = true;
  dribble.join();
  for (int fd : slow) ::close(fd);
  EXPECT_EQ(closed, 100);
}

TEST(BoundedHttpServer, HeadersWithoutEndAreCutOffByBytes) {
  TestServer t(small_limits());
  auto [reply, sent] = send_until_answered(t.port, "GET /health HTTP/1.1\r\nX-Long: ",
                                           [] { return std::string(4096, 'h'); }, 64u << 20);
  EXPECT_LT(sent, 8u << 20);  // the server closed instead of growing a line forever
  EXPECT_EQ(reply.find("200 OK"), std::string::npos);
}

TEST(BoundedHttpServer, HandlerSeesItsClientHangUp) {
  TestServer t(small_limits());
  const int fd = connect_to(t.port);
  ASSERT_GE(fd, 0);
  const std::string req = "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  std::this_thread::sleep_for(200ms);
  ::close(fd);
  const auto deadline = Clock::now() + 90s;  // bounded poll for the handler's end, not a speed check
  while (t.gone_after_ms.load() < 0 && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(t.saw_hang_up.load()) << "the handler waited out its bound instead of noticing the hang-up";
  EXPECT_GE(t.gone_after_ms.load(), 100) << "it noticed a hang-up before the client hung up";
}

}  // namespace
}  // namespace baton
