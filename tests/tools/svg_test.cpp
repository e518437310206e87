// The pictures `baton simulate --out` writes are well-formed XML (checked by a small
// parser here), hold one lane per device, and escape whatever names they show.
#include <gtest/gtest.h>

#include <cctype>
#include <regex>
#include <vector>

#include "tools/simulate/report.h"
#include "tools/simulate/svg.h"

namespace baton::sim {
namespace {

// Empty when `xml` is one well-formed element tree (tags balanced and properly nested,
// attribute values quoted, no raw '<' or unescaped '&' in text), else the problem.
std::string xml_problem(const std::string& xml) {
  std::vector<std::string> open;
  size_t i = 0, roots = 0;
  auto entity_ok = [&](size_t at) {
    static const std::regex entity("^&(amp|lt|gt|quot|apos|#[0-9]+);");
    return std::regex_search(xml.begin() + static_cast<long>(at), xml.end(), entity);
  };
  while (i < xml.size()) {
    if (xml[i] == '&' && !entity_ok(i)) return "bare & at " + std::to_string(i);
    if (xml[i] != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(xml[i]))) return "text outside the root";
      ++i;
      continue;
    }
    const size_t end = xml.find('>', i);
    if (end == std::string::npos) return "unterminated tag";
    std::string tag = xml.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '/') {
      if (open.empty() || open.back() != tag.substr(1)) return "mismatched </" + tag.substr(1) + ">";
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    if (self_closing) tag.pop_back();
    const size_t name_end = tag.find_first_of(" \n\t");
    const std::string name = tag.substr(0, name_end);
    if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) return "bad tag name '" + name + "'";
    // Attributes: name="value" pairs, values without '<'.
    static const std::regex attr(R"(\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*="[^"<]*")");
    std::string rest = name_end == std::string::npos ? "" : tag.substr(name_end);
    while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.back()))) rest.pop_back();
    if (!std::regex_replace(rest, attr, "").empty()) return "bad attributes in <" + name + ">";
    if (open.empty() && ++roots > 1) return "more than one root";
    if (!self_closing) open.push_back(name);
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  return roots == 1 ? "" : "no root element";
}

RunReport sample(bool measured) {
  RunReport r;
  r.cluster = "home <&> \"test\".toml";
  r.strategy = "memory";
  const char* names[] = {"phone", "tablet", "pc"};
  for (int i = 0; i < 3; ++i) {
    StageReport s;
    s.stage = i;
    s.device = names[i];
    s.first = i;
    s.last = i + 1 + (i == 2);
    s.predicted_compute_ms = 0.2 * (i + 1);
    s.predicted_hop_in_ms = 4.0 - i;
    if (measured) {
      s.compute_ms = 0.25 * (i + 1);
      s.hop_in_ms = 4.2 - i;
    }
    r.stages.push_back(s);
  }
  r.predicted_return_ms = 0.2;
  if (measured) r.return_ms = 0.3;
  return r;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(SimulateSvg, CheckerCatchesBrokenXml) {
  EXPECT_EQ(xml_problem("<svg><rect x=\"1\"/></svg>"), "");
  EXPECT_NE(xml_problem("<svg><rect x=\"1\"></svg>"), "");
  EXPECT_NE(xml_problem("<svg><text>a & b</text></svg>"), "");
  EXPECT_NE(xml_problem("<svg><rect x=1/></svg>"), "");
  EXPECT_NE(xml_problem("<svg></svg><svg></svg>"), "");
}

TEST(SimulateSvg, TimelineIsWellFormedWithALanePerDevice) {
  for (bool measured : {true, false}) {
    const std::string svg = timeline_svg(sample(measured), 3);
    EXPECT_EQ(xml_problem(svg), "") << svg;
    EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
    for (const char* lane : {">coordinator<", ">phone<", ">tablet<", ">pc<"}) EXPECT_NE(svg.find(lane), std::string::npos) << lane;
    // 3 tokens x (3 hops in + 3 computes + 1 return): one span each, with a tooltip.
    EXPECT_EQ(count(svg, "computes layers"), 9u);
    EXPECT_EQ(count(svg, "logits back to the coordinator"), 3u);
    EXPECT_NE(svg.find("home &lt;&amp;&gt; &quot;test&quot;.toml"), std::string::npos);
  }
}

TEST(SimulateSvg, TimelineFromTheTraceDrawsEachTokenAsItTravelled) {
  RunReport r = sample(true);
  // Two tokens, 10 ms apart. Token 1: hop 1 ms into phone, which waits 0.5 ms and
  // computes 0.25; hop 2 ms into tablet (computes 0.5); hop 1 ms into pc (0.75); 0.25 back.
  for (int k = 0; k < 2; ++k) {
    const double o = 10.0 * k;
    TraceToken t;
    t.sent_ms = 100 + o;  // stamps need not start at 0: the first token's departure is
    t.stages = {{0, 101 + o, 101.75 + o, 0.25}, {1, 103.75 + o, 104.25 + o, 0.5}, {2, 105.25 + o, 106 + o, 0.75}};
    t.received_ms = 106.25 + o;
    r.trace.push_back(t);
  }
  const std::string svg = timeline_svg(r, 4);  // asks for more tokens than were traced
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(count(svg, " computes: "), 6u);
  EXPECT_EQ(count(svg, "logits back to the coordinator: 0.250 ms"), 2u);
  EXPECT_EQ(count(svg, "hop into phone: 1.000 ms"), 2u);
  EXPECT_EQ(count(svg, "hop into tablet: 2.000 ms"), 2u);
  EXPECT_EQ(count(svg, "phone waits / decodes the frame: 0.500 ms"), 2u);
  EXPECT_EQ(count(svg, "waits / decodes"), 2u) << "only phone waited";
  EXPECT_NE(svg.find("measured, token by token"), std::string::npos);
  EXPECT_EQ(count(svg, "computes layers"), 0u) << "not the averages";
}

TEST(SimulateSvg, BarsAreWellFormedPredictedAndMeasured) {
  const std::string both = bars_svg(sample(true));
  EXPECT_EQ(xml_problem(both), "") << both;
  EXPECT_EQ(count(both, "predicted compute"), 4u);  // 3 devices + the return hop
  EXPECT_EQ(count(both, "measured compute"), 4u);
  const std::string predicted_only = bars_svg(sample(false));
  EXPECT_EQ(xml_problem(predicted_only), "");
  EXPECT_EQ(count(predicted_only, "measured compute"), 0u);
}

TEST(SimulateSvg, EmptyReportStillDrawsValidSvg) {
  RunReport r;
  EXPECT_EQ(xml_problem(timeline_svg(r)), "");
  EXPECT_EQ(xml_problem(bars_svg(r)), "");
}

TEST(SimulateSvg, EscapesAndDropsControlCharacters) {
  EXPECT_EQ(xml_escape("a<b>&\"c'\x01"), "a&lt;b&gt;&amp;&quot;c&apos;");
}

TEST(SimulateReport, HopsFromTheTraceAreDepartureToArrivalAveragedOverTokens) {
  RunReport r = sample(true);
  EXPECT_FALSE(hops_from_trace(r)) << "no trace";
  for (double hop0 : {1.0, 3.0}) {  // phone's hop in: 1 ms, then 3 ms
    TraceToken t;
    t.sent_ms = 50;
    t.stages = {{0, 50 + hop0, 51 + hop0, 0.25}, {1, 53 + hop0, 54 + hop0, 0.5}, {2, 54.5 + hop0, 55 + hop0, 0.75}};
    t.received_ms = 55.25 + hop0;
    r.trace.push_back(t);
  }
  ASSERT_TRUE(hops_from_trace(r));
  EXPECT_DOUBLE_EQ(*r.stages[0].hop_in_ms, 2.0);
  EXPECT_DOUBLE_EQ(*r.stages[1].hop_in_ms, 2.0);
  EXPECT_DOUBLE_EQ(*r.stages[2].hop_in_ms, 0.5);
  EXPECT_DOUBLE_EQ(*r.return_ms, 0.25);
}

TEST(SimulateReport, TransferIsWhatIsLeftAfterComputeSplitByPredictedHops) {
  RunReport r = sample(true);
  r.measured_ms_per_token = 12.0;  // compute 0.25 + 0.5 + 0.75 = 1.5, so 10.5 outside
  attribute_transfer(r);
  double sum = *r.return_ms;
  for (const auto& s : r.stages) sum += *s.hop_in_ms;
  EXPECT_NEAR(sum, 10.5, 1e-9);
  // Predicted hops 4, 3, 2 and return 0.2 (sum 9.2).
  EXPECT_NEAR(*r.stages[0].hop_in_ms, 10.5 * 4 / 9.2, 1e-9);
  EXPECT_NEAR(*r.return_ms, 10.5 * 0.2 / 9.2, 1e-9);
  const auto j = to_json(r);
  EXPECT_EQ(j["stages"].size(), 3u);
  EXPECT_TRUE(j["stages"][0]["measured"]["compute_ms"].is_number());
  EXPECT_FALSE(render_table(r).empty());
}

}  // namespace
}  // namespace baton::sim
