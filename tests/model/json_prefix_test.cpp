// The JSON prefix machine behind response_format json_object, against nlohmann::json's
// parser as the reference on random texts, and on hand-picked documents and mistakes.
#include "model/json_prefix.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>

namespace baton {
namespace {

bool whole(const std::string& text, bool object_only = true) {
  JsonPrefix p(object_only);
  return p.feed(text) && p.complete();
}

// How many bytes of `text` are accepted before the first refusal.
size_t accepted_bytes(const std::string& text) {
  JsonPrefix p;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!p.feed(static_cast<unsigned char>(text[i]))) return i;
  }
  return text.size();
}

TEST(JsonPrefix, WholeDocumentsAreAcceptedAndOnlyThenComplete) {
  const std::string docs[] = {
      "{}",
      R"({"a":1})",
      " {\n  \"name\": \"Ada\",\n  \"age\": 36,\n  \"tags\": [\"x\", \"y\"]\n}\n",
      R"({"a": [1, -2.5e+3, 0, 0.5, 1E-2, true, false, null, "x\n\u00e9\"\\\/"], "b": {"c": {}, "d": []}})",
  };
  for (const std::string& d : docs) {
    ASSERT_TRUE(nlohmann::json::accept(d)) << d;
    EXPECT_TRUE(whole(d)) << d;
    JsonPrefix p;
    for (size_t i = 0; i + 1 < d.size(); ++i) {
      ASSERT_TRUE(p.feed(static_cast<unsigned char>(d[i]))) << d << " at " << i;
      // Complete only once the object closed (trailing whitespace may follow it).
      if (i + 1 < d.find_last_of('}')) {
        EXPECT_FALSE(p.complete()) << d.substr(0, i + 1);
      }
    }
  }
  EXPECT_TRUE(whole("12", false)) << "any value when not restricted to objects";
  EXPECT_TRUE(whole("\"s\"", false));
  EXPECT_FALSE(whole("12")) << "json_object: the document must be an object";
  EXPECT_FALSE(whole("[1]"));
}

TEST(JsonPrefix, TheFirstWrongByteIsRefusedAndTheStateKept) {
  EXPECT_EQ(accepted_bytes("{a"), 1u);
  EXPECT_EQ(accepted_bytes(R"({"a" 1)"), 5u);
  EXPECT_EQ(accepted_bytes(R"({"a":01)"), 6u) << "no leading zeros";
  EXPECT_EQ(accepted_bytes(R"({"a":1,})"), 7u) << "no trailing comma";
  EXPECT_EQ(accepted_bytes(R"({"a":tru e})"), 8u);
  EXPECT_EQ(accepted_bytes("{\"a\":\"x\ty\"}"), 7u) << "control characters must be escaped";
  EXPECT_EQ(accepted_bytes(R"({"a":"\q"})"), 7u) << "unknown escape";
  EXPECT_EQ(accepted_bytes(R"({"a":"\u12G4"})"), 10u);
  EXPECT_EQ(accepted_bytes(R"({"a":1.})"), 7u) << "a fraction needs a digit";
  EXPECT_EQ(accepted_bytes(R"({} x)"), 3u) << "nothing but whitespace after the document";

  JsonPrefix p;
  ASSERT_TRUE(p.feed(std::string("{\"k\":")));
  EXPECT_FALSE(p.feed('}'));
  EXPECT_TRUE(p.feed(std::string("[]}"))) << "a refused byte leaves the state as it was";
  EXPECT_TRUE(p.complete());
}

TEST(JsonPrefix, NestingAndWhitespaceAreBounded) {
  std::string deep = "{\"a\":";
  for (size_t i = 1; i < JsonPrefix::kMaxDepth; ++i) deep += "[";
  EXPECT_EQ(accepted_bytes(deep + "[[1"), deep.size()) << "one level more than the limit is refused";
  EXPECT_EQ(accepted_bytes("{" + std::string(JsonPrefix::kMaxWhitespaceRun, ' ') + " }"),
            1u + JsonPrefix::kMaxWhitespaceRun);
  EXPECT_EQ(accepted_bytes("\n\n\n{}"), 2u) << "little whitespace before the document";
  EXPECT_EQ(accepted_bytes("{}\n\n\n"), 4u) << "and after it";
}

TEST(JsonPrefix, TheShortestEndingMakesEveryPrefixWhole) {
  const std::string doc = R"({"a": [1, -2.5e+3, true, "x\u00e9y", {"k": null}], "b": {}})";
  ASSERT_TRUE(nlohmann::json::accept(doc));
  JsonPrefix p;
  EXPECT_EQ(p.shortest_ending(), "{}");
  for (unsigned char c : doc) {
    ASSERT_TRUE(p.feed(c));
    const std::string ending = p.shortest_ending();
    JsonPrefix closed = p;
    ASSERT_TRUE(closed.feed(ending)) << "ending '" << ending << "' refused";
    EXPECT_TRUE(closed.complete()) << "ending '" << ending << "' did not close";
  }
  EXPECT_EQ(p.shortest_ending(), "");
}

// Random texts over JSON's own alphabet: whatever the machine accepts whole is an object
// nlohmann parses, and every prefix of a document nlohmann parses (within the limits) is
// accepted byte by byte.
TEST(JsonPrefix, AgreesWithNlohmannOnRandomTexts) {
  const std::string alphabet = "{}[],:\"\\ 0123-+.eEtrufalsnx\nu";
  std::mt19937 rng(20261202);
  int agreed_whole = 0;
  for (int trial = 0; trial < 200000; ++trial) {
    std::string text;
    const int length = 1 + static_cast<int>(rng() % 14);
    for (int i = 0; i < length; ++i) text += alphabet[rng() % alphabet.size()];
    const bool reference = nlohmann::json::accept(text) && nlohmann::json::parse(text).is_object();
    const bool ours = whole(text);
    ASSERT_EQ(ours, reference) << "text: " << text;
    if (reference) {
      ++agreed_whole;
      ASSERT_EQ(accepted_bytes(text), text.size()) << text;
    }
  }
  EXPECT_GT(agreed_whole, 20) << "the random texts should contain some whole objects";
}

}  // namespace
}  // namespace baton
