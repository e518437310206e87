// Who may use the HTTP API and from where: API keys (Authorization: Bearer KEY) and CORS
// for configured origins. A pure decision on the request's method, path and headers, so
// it is unit-tested without sockets; the HTTP service applies it before any body is read.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace baton {

struct DoorPolicy {
  std::vector<std::string> api_keys;      // empty: no key needed
  std::vector<std::string> cors_origins;  // exact origins ("http://localhost:5173"); "*" allows any
  std::vector<std::string> public_paths;  // served without a key (/health, the page's files)
};

struct DoorRequest {
  std::string method;
  std::string path;
  std::string origin;                  // Origin header, empty if none
  std::string authorization;           // Authorization header
  std::string preflight_method;        // Access-Control-Request-Method
  std::string preflight_headers;       // Access-Control-Request-Headers
};

struct DoorVerdict {
  // Headers to add to whatever the answer is (CORS).
  std::vector<std::pair<std::string, std::string>> headers;
  // Set when the door answers by itself: a preflight (204) or a refusal (401, 403).
  std::optional<int> status;
  std::string error_code;     // for refusals: OpenAI's error code
  std::string error_message;  // for people
};

DoorVerdict judge_door(const DoorPolicy& policy, const DoorRequest& request);

// Keys from a file: one per line; blank lines and lines starting with # are skipped.
// Throws std::runtime_error naming the file when it cannot be read or holds no key.
std::vector<std::string> read_api_key_file(const std::string& path);

// True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(const std::string& host);

}  // namespace baton
