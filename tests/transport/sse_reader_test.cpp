#include "transport/sse_reader.h"

#include <gtest/gtest.h>

namespace baton {
namespace {

TEST(SseReader, EventsSplitAcrossChunksComeOutWhole) {
  SseReader r;
  EXPECT_TRUE(r.feed("data: {\"a\"").empty());
  EXPECT_TRUE(r.feed(":1}\n").empty());
  auto e = r.feed("\ndata: [DONE]\n\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0], "{\"a\":1}");
  EXPECT_EQ(e[1], "[DONE]");
}

TEST(SseReader, CommentsAndOtherFieldsAreSkippedAndCrlfAndMultiLineDataWork) {
  SseReader r;
  auto e = r.feed(": keep-alive\n\nevent: x\r\ndata: one\r\ndata:two\r\n\r\nid: 3\n\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "one\ntwo");
}

TEST(SseReader, AnEventLongerThanTheBoundIsAnError) {
  SseReader r(16);
  EXPECT_THROW(r.feed("data: " + std::string(64, 'x')), std::runtime_error);
}

}  // namespace
}  // namespace baton
