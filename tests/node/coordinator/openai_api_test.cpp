// Request bodies the HTTP API must refuse as the client's fault (400), including the ones
// the fuzzer found.
#include "node/coordinator/openai_api.h"

#include <gtest/gtest.h>

namespace baton {
namespace {

int status_of(const std::string& body) {
  try {
    parse_completion_request(body, false, "m", 64);
  } catch (const ApiError& e) {
    return e.status;
  }
  return 200;
}

TEST(OpenAiApi, NumbersBeyondDoubleAndOtherBrokenJsonAre400) {
  EXPECT_EQ(status_of("5e5353"), 400);
  EXPECT_EQ(status_of(R"({"prompt": "x", "max_tokens": 1e999})"), 400);
  EXPECT_EQ(status_of("{\"prompt\": \"x\""), 400);
  EXPECT_EQ(status_of("\xff\xfe"), 400);
  EXPECT_EQ(status_of(R"({"prompt": "x", "max_tokens": 3})"), 200);
}

}  // namespace
}  // namespace baton
