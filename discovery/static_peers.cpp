#include "discovery/static_peers.h"

#include <algorithm>
#include <charconv>

namespace baton::discovery {
namespace {

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return {};
  const auto end = s.find_last_not_of(" \t");
  return s.substr(begin, end - begin + 1);
}

bool valid_host(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == ':' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

StaticPeersParse parse_static_peers(const std::string& text) {
  StaticPeersParse out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = trim(text.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) {
      if (text.empty()) break;
      out.error = "empty entry in --peers list";
      return out;
    }
    std::string host, port_text;
    if (item.front() == '[') {  // [v6]:port
      const auto close = item.find(']');
      if (close == std::string::npos || close + 1 >= item.size() || item[close + 1] != ':') {
        out.error = "'" + item + "' should look like [address]:port";
        return out;
      }
      host = item.substr(1, close - 1);
      port_text = item.substr(close + 2);
    } else {
      const auto colon = item.rfind(':');
      if (colon == std::string::npos || item.find(':') != colon) {
        out.error = "'" + item + "' should look like host:port";
        return out;
      }
      host = item.substr(0, colon);
      port_text = item.substr(colon + 1);
    }
    if (!valid_host(host)) {
      out.error = "'" + item + "': '" + host + "' is not a host name or address";
      return out;
    }
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      out.error = "'" + item + "': port must be a number from 1 to 65535";
      return out;
    }
    StaticPeer peer{host, static_cast<std::uint16_t>(port)};
    if (std::find(out.peers.begin(), out.peers.end(), peer) == out.peers.end()) out.peers.push_back(peer);
  }
  return out;
}

}  // namespace baton::discovery
