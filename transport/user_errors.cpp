#include "transport/user_errors.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace baton {

std::string plain_message(const std::string& description) {
  static constexpr std::array<std::string_view, 4> kWrappers = {"remote exception: ", "std::exception: ",
                                                               "(unknown):-1: failed: ", "failed: "};
  std::string out = description;
  for (bool stripped = true; stripped;) {
    stripped = false;
    for (std::string_view w : kWrappers) {
      if (out.rfind(w, 0) == 0) {
        out.erase(0, w.size());
        stripped = true;
      }
    }
  }
  // Anything after a line break is detail (kj appends "stack: ..." in some builds).
  if (const auto nl = out.find('\n'); nl != std::string::npos) out.erase(nl);
  return out;
}

std::string plain_message(const kj::Exception& e) { return plain_message(std::string(e.getDescription().cStr())); }

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kUnreachable = {{
    {"connection refused", "connection refused"},
    {"no route to host", "no route to host"},
    {"network is unreachable", "network unreachable"},
    {"timed out", "timed out"},
    {"host is unreachable", "host unreachable"},
    {"name or service not known", "unknown host name"},
}};

}  // namespace

bool is_unreachable(const kj::Exception& e) { return !unreachable_reason(e).empty(); }

std::string unreachable_reason(const kj::Exception& e) {
  const std::string d = lower(e.getDescription().cStr());
  if (d.find("connect()") == std::string::npos && d.find("getaddrinfo") == std::string::npos) return "";
  for (const auto& [needle, reason] : kUnreachable) {
    if (d.find(needle) != std::string::npos) return std::string(reason);
  }
  return "";
}

}  // namespace baton
