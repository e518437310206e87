// Splits a text/event-stream (Server-Sent Events) body, arriving in arbitrary chunks, into
// the payloads of its `data:` fields, one per event. Pure; bounded: an event longer than
// `max_event_bytes` is an error rather than a buffer that grows without end.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace baton {

class SseReader {
 public:
  explicit SseReader(size_t max_event_bytes = 1 << 20) : max_event_bytes_(max_event_bytes) {}

  // Returns the data of every event completed by this chunk (multi-line data joined with
  // '\n'). Throws std::runtime_error when an event exceeds the bound.
  std::vector<std::string> feed(std::string_view chunk);

 private:
  size_t max_event_bytes_;
  std::string pending_;  // bytes of the event not yet ended by a blank line
};

}  // namespace baton
