#include "transport/sse_reader.h"

#include <fmt/format.h>

#include <stdexcept>

namespace baton {

namespace {

// The data of one event block (lines without the blank terminator).
std::string event_data(std::string_view block) {
  std::string data;
  bool any = false;
  while (!block.empty()) {
    const size_t nl = block.find('\n');
    std::string_view line = block.substr(0, nl);
    block = nl == std::string_view::npos ? std::string_view() : block.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.rfind("data:", 0) != 0) continue;  // comments, event:, id:, retry:
    line.remove_prefix(5);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (any) data += '\n';
    data += line;
    any = true;
  }
  return data;
}

}  // namespace

std::vector<std::string> SseReader::feed(std::string_view chunk) {
  pending_.append(chunk);
  std::vector<std::string> events;
  for (;;) {
    // Events end with a blank line: "\n\n" (or "\r\n\r\n").
    size_t end = pending_.find("\n\n");
    size_t skip = 2;
    const size_t crlf = pending_.find("\r\n\r\n");
    if (crlf != std::string::npos && (end == std::string::npos || crlf < end)) {
      end = crlf;
      skip = 4;
    }
    if (end == std::string::npos) break;
    std::string data = event_data(std::string_view(pending_).substr(0, end));
    pending_.erase(0, end + skip);
    if (!data.empty()) events.push_back(std::move(data));
  }
  if (pending_.size() > max_event_bytes_) {
    throw std::runtime_error(fmt::format("server-sent event longer than {} bytes", max_event_bytes_));
  }
  return events;
}

}  // namespace baton
