#include "node/coordinator/http_doors.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <stdexcept>

namespace baton {

namespace {

// Compares without an early exit, so the time taken says nothing about how much matched.
bool same_secret(const std::string& a, const std::string& b) {
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = diff | static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::string trim(std::string s) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

bool key_accepted(const DoorPolicy& policy, const std::string& authorization) {
  const std::string prefix = "Bearer ";
  if (authorization.size() <= prefix.size()) return false;
  if (!std::equal(prefix.begin(), prefix.end(), authorization.begin(),
                  [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); })) {
    return false;
  }
  const std::string key = trim(authorization.substr(prefix.size()));
  bool found = false;
  for (const auto& k : policy.api_keys) found = same_secret(k, key) || found;  // look at every key
  return found;
}

}  // namespace

DoorVerdict judge_door(const DoorPolicy& policy, const DoorRequest& r) {
  DoorVerdict v;
  const bool any_origin = std::find(policy.cors_origins.begin(), policy.cors_origins.end(), "*") != policy.cors_origins.end();
  const bool origin_allowed =
      !r.origin.empty() &&
      (any_origin || std::find(policy.cors_origins.begin(), policy.cors_origins.end(), r.origin) != policy.cors_origins.end());
  if (origin_allowed) {
    v.headers.emplace_back("Access-Control-Allow-Origin", any_origin && policy.api_keys.empty() ? "*" : r.origin);
    v.headers.emplace_back("Vary", "Origin");
    // The usage and baton's figures are in the body; nothing in headers needs exposing but these.
    v.headers.emplace_back("Access-Control-Expose-Headers", "Retry-After");
  }
  if (r.method == "OPTIONS") {
    if (!r.origin.empty() && !r.preflight_method.empty()) {
      if (!origin_allowed) {
        v.status = 403;
        v.error_code = "cors_origin_not_allowed";
        v.error_message = fmt::format(
            "origin '{}' may not call this API from a browser; start the coordinator with --cors-origin {} to allow it",
            r.origin, r.origin);
        return v;
      }
      v.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      v.headers.emplace_back("Access-Control-Allow-Headers",
                             r.preflight_headers.empty() ? "Authorization, Content-Type" : r.preflight_headers);
      v.headers.emplace_back("Access-Control-Max-Age", "600");
    }
    v.headers.emplace_back("Allow", "GET, POST, OPTIONS");
    v.status = 204;  // preflights never carry credentials: answered before the key check
    return v;
  }
  const bool is_public = std::find(policy.public_paths.begin(), policy.public_paths.end(), r.path) != policy.public_paths.end();
  if (!policy.api_keys.empty() && !is_public && !key_accepted(policy, r.authorization)) {
    v.status = 401;
    v.error_code = "invalid_api_key";
    v.error_message = r.authorization.empty()
                          ? "this API needs an API key: send 'Authorization: Bearer KEY' with one of the coordinator's --api-key values"
                          : "the API key is not one of the coordinator's --api-key values";
    v.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return v;
}

std::vector<std::string> read_api_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("cannot read the API key file '{}'", path));
  std::vector<std::string> keys;
  std::string line;
  for (size_t n = 0; std::getline(in, line) && n < 100'000; ++n) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.size() > 512) throw std::runtime_error(fmt::format("{}:{}: an API key longer than 512 characters", path, n + 1));
    keys.push_back(line);
  }
  if (keys.empty()) throw std::runtime_error(fmt::format("the API key file '{}' holds no key (one per line)", path));
  return keys;
}

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

}  // namespace baton
