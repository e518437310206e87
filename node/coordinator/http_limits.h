// The bounds of the coordinator's HTTP server (http_server.h): how long and how much a
// client may send, and how many connections are served at once.
#pragma once

#include <chrono>
#include <cstddef>

namespace baton {

struct HttpLimits {
  std::chrono::milliseconds head_timeout{10'000};  // request line + headers
  std::chrono::milliseconds body_timeout{30'000};  // the whole body
  std::chrono::milliseconds idle_timeout{5'000};   // keep-alive between requests
  size_t max_head_bytes = 64 * 1024;
  size_t max_body_bytes = 1 << 20;  // decoded (after gzip/deflate and chunking)
  size_t max_workers = 256;         // connections served at once; later ones queue
  size_t keep_alive_requests = 100;
};

}  // namespace baton
