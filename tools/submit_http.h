// `baton submit --url`: the same job over the coordinator's OpenAI-compatible HTTP API
// (streams SSE to the terminal; --json prints one object, as the RPC path does).
#pragma once

#include <string>
#include <vector>

#include "model/generation.h"

namespace baton::cli {

struct HttpSubmit {
  std::string url;  // http://HOST:PORT (scheme optional)
  std::string prompt;
  std::vector<int32_t> prompt_ids;
  bool chat = false;
  bool json = false;
  GenerationParams params;
};

int submit_over_http(const HttpSubmit& s);

}  // namespace baton::cli
