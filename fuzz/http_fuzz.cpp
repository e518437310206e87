// What an HTTP client can send the coordinator: OpenAI request bodies (both endpoints, and
// the error replies they get, which must serialise as strict UTF-8) and,
// for `baton submit --url`, server-sent event streams cut at arbitrary points.
#include <cstdint>
#include <string>

#include "node/coordinator/openai_api.h"
#include "transport/sse_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    baton::parse_completion_request(body, data[0] & 1, "baton-model", 64);
  } catch (const baton::ApiError& e) {
    // The reply the client gets: must serialise (strict UTF-8) and name a real status.
    const std::string reply = baton::error_body(e).dump();
    if (e.status < 400 || e.status > 599 || reply.empty()) __builtin_trap();
  }
  baton::SseReader sse(4096);
  try {
    const size_t cut = data[0] % (body.size() + 1);
    sse.feed(std::string_view(body).substr(0, cut));
    sse.feed(std::string_view(body).substr(cut));
  } catch (const std::runtime_error&) {
  }
  return 0;
}
