#include "tools/simulate/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace baton::sim {

namespace {

constexpr const char* kCompute = "#3b7dd8";
constexpr const char* kTransfer = "#f0a23b";
constexpr const char* kWait = "#c9ced6";
constexpr const char* kFont = "font-family=\"sans-serif\" font-size=\"12\"";

std::string header(int width, int height, const std::string& title) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\">\n"
      "<title>{2}</title>\n<rect x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"#ffffff\"/>\n"
      "<text x=\"10\" y=\"20\" {3} font-weight=\"bold\">{2}</text>\n",
      width, height, xml_escape(title), kFont);
}

std::string rect(double x, double y, double w, double h, const char* fill, const std::string& tip) {
  return fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"{}\"><title>{}</title></rect>\n",
                     x, y, std::max(w, 0.5), h, fill, xml_escape(tip));
}

std::string text(double x, double y, const std::string& s, const char* anchor = "start") {
  return fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" {} text-anchor=\"{}\">{}</text>\n", x, y, kFont, anchor, xml_escape(s));
}

std::string legend(double x, double y, bool with_wait = false) {
  std::string out = rect(x, y - 10, 12, 12, kCompute, "compute") + text(x + 16, y, "compute") +
                    rect(x + 90, y - 10, 12, 12, kTransfer, "transfer") + text(x + 106, y, "transfer (hop in)");
  if (with_wait) out += rect(x + 240, y - 10, 12, 12, kWait, "waiting") + text(x + 256, y, "waiting / frame decode");
  return out;
}

// A "nice" tick step so that about `count` ticks cover `span`.
double tick_step(double span, int count) {
  if (!(span > 0)) return 1;
  const double raw = span / count;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= raw) return m * p;
  }
  return 10 * p;
}

double value_or(const std::optional<double>& v, double fallback) { return v ? *v : fallback; }

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t') out += c;  // drop other controls
    }
  }
  return out;
}

namespace {

// A span on one lane of the timeline.
struct Span {
  size_t lane;  // 0: coordinator, i + 1: stage i
  double start, ms;
  const char* fill;
  std::string tip;
};

// The first tokens from the per-token figures: each token runs stage by stage, hop in then
// compute, and returns to the coordinator (measured averages where known, else predicted).
std::vector<Span> spans_from_averages(const RunReport& r, int tokens) {
  std::vector<Span> spans;
  double t = 0;
  for (int k = 0; k < tokens; ++k) {
    for (size_t i = 0; i < r.stages.size(); ++i) {
      const StageReport& s = r.stages[i];
      const double hop = value_or(s.hop_in_ms, s.predicted_hop_in_ms);
      const double comp = value_or(s.compute_ms, s.predicted_compute_ms);
      spans.push_back({i + 1, t, hop, kTransfer, fmt::format("token {}: hop into {}: {:.3f} ms", k + 1, s.device, hop)});
      t += hop;
      spans.push_back({i + 1, t, comp, kCompute, fmt::format("token {}: {} computes layers [{}, {}): {:.3f} ms", k + 1,
                                                             s.device, s.first, s.last, comp)});
      t += comp;
    }
    const double ret = value_or(r.return_ms, r.predicted_return_ms);
    spans.push_back({0, t, ret, kTransfer, fmt::format("token {}: logits back to the coordinator: {:.3f} ms", k + 1, ret)});
    t += ret;
  }
  return spans;
}

// The first tokens as they really travelled (the coordinator's trace): hops from the
// sender's departure to the receiver's arrival, waiting (queue, frame decode) and compute
// on each stage, and the logits' way back.
std::vector<Span> spans_from_trace(const RunReport& r, int tokens) {
  std::vector<Span> spans;
  const double origin = r.trace.front().sent_ms;
  const size_t n = std::min(r.trace.size(), static_cast<size_t>(tokens));
  for (size_t k = 0; k < n; ++k) {
    const TraceToken& t = r.trace[k];
    double left = t.sent_ms - origin;  // where the frame last left from
    for (const TraceStage& s : t.stages) {
      const size_t lane = static_cast<size_t>(s.stage) + 1;
      if (lane > r.stages.size()) break;
      const std::string& device = r.stages[lane - 1].device;
      const double arrived = s.received_ms - origin, sent = s.sent_ms - origin;
      const double compute_start = std::max(arrived, sent - s.compute_ms);
      spans.push_back({lane, left, std::max(0.0, arrived - left), kTransfer,
                       fmt::format("token {}: hop into {}: {:.3f} ms", k + 1, device, arrived - left)});
      if (compute_start > arrived) {
        spans.push_back({lane, arrived, compute_start - arrived, kWait,
                         fmt::format("token {}: {} waits / decodes the frame: {:.3f} ms", k + 1, device, compute_start - arrived)});
      }
      spans.push_back({lane, compute_start, std::max(0.0, sent - compute_start), kCompute,
                       fmt::format("token {}: {} computes: {:.3f} ms", k + 1, device, sent - compute_start)});
      left = sent;
    }
    const double back = t.received_ms - origin;
    spans.push_back({0, left, std::max(0.0, back - left), kTransfer,
                     fmt::format("token {}: logits back to the coordinator: {:.3f} ms", k + 1, back - left)});
  }
  return spans;
}

}  // namespace

std::string timeline_svg(const RunReport& r, int tokens) {
  tokens = std::max(tokens, 1);
  const double lane_h = 28, top = 50, left = 120, width = 960, right = 20;
  const size_t lanes = r.stages.size() + 1;  // + the coordinator
  const double height = top + lanes * lane_h + 50;
  const bool traced = !r.trace.empty();
  const std::vector<Span> spans = traced ? spans_from_trace(r, tokens) : spans_from_averages(r, tokens);
  double t = 0;
  for (const Span& s : spans) t = std::max(t, s.start + s.ms);
  const double total = t > 0 ? t : 1;
  const double scale = (width - left - right) / total;

  std::string svg = header(static_cast<int>(width), static_cast<int>(height),
                           fmt::format("{} ({}): first {} decoded tokens", r.cluster, r.strategy, tokens));
  for (size_t lane = 0; lane < lanes; ++lane) {
    const double y = top + lane * lane_h;
    svg += fmt::format("<rect x=\"{}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"{}\"/>\n", left, y,
                       width - left - right, lane_h, lane % 2 ? "#f4f4f4" : "#fbfbfb");
    svg += text(8, y + lane_h / 2 + 4, lane == 0 ? std::string("coordinator") : r.stages[lane - 1].device);
  }
  for (const Span& s : spans) {
    svg += rect(left + s.start * scale, top + s.lane * lane_h + 5, s.ms * scale, lane_h - 10, s.fill, s.tip);
  }
  const double axis_y = top + lanes * lane_h;
  svg += fmt::format("<line x1=\"{}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" stroke=\"#333333\"/>\n", left, axis_y,
                     width - right, axis_y);
  const double step = tick_step(total, 8);
  for (double v = 0; v <= total + 1e-9; v += step) {
    const double x = left + v * scale;
    svg += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\" stroke=\"#333333\"/>\n", x,
                       axis_y, axis_y + 4);
    svg += text(x, axis_y + 16, fmt::format("{:g} ms", std::round(v * 1000) / 1000), "middle");
  }
  svg += legend(left, height - 10, traced);
  svg += text(width - right, height - 10,
              traced ? "measured, token by token"
                     : (r.stages.empty() || r.stages.front().compute_ms ? "measured per-token averages" : "predicted"),
              "end");
  svg += "</svg>\n";
  return svg;
}

std::string bars_svg(const RunReport& r) {
  const double left = 170, top = 50, bar_h = 14, group_h = 44, width = 780, right = 120;  // right: room for "12.34 measured"
  const size_t groups = r.stages.size() + 1;  // + the return hop
  const double height = top + groups * group_h + 40;
  double longest = std::max(r.predicted_return_ms, value_or(r.return_ms, 0));
  for (const StageReport& s : r.stages) {
    longest = std::max(longest, s.predicted_compute_ms + s.predicted_hop_in_ms);
    longest = std::max(longest, value_or(s.compute_ms, 0) + value_or(s.hop_in_ms, 0));
  }
  if (!(longest > 0)) longest = 1;
  const double scale = (width - left - right) / longest;

  std::string svg = header(static_cast<int>(width), static_cast<int>(height),
                           fmt::format("{} ({}): ms per decoded token, predicted (top) vs measured", r.cluster, r.strategy));
  auto bar = [&](double y, double compute, double hop, const std::string& who, const char* what) {
    svg += rect(left, y, hop * scale, bar_h, kTransfer, fmt::format("{} {} hop in: {:.3f} ms", who, what, hop));
    svg += rect(left + hop * scale, y, compute * scale, bar_h, kCompute,
                fmt::format("{} {} compute: {:.3f} ms", who, what, compute));
    svg += text(left + (hop + compute) * scale + 4, y + bar_h - 3, fmt::format("{:.2f} {}", hop + compute, what));
  };
  for (size_t i = 0; i < r.stages.size(); ++i) {
    const StageReport& s = r.stages[i];
    const double y = top + i * group_h;
    svg += text(8, y + bar_h + 2, fmt::format("{} [{},{})", s.device, s.first, s.last));
    bar(y, s.predicted_compute_ms, s.predicted_hop_in_ms, s.device, "predicted");
    if (s.compute_ms) bar(y + bar_h + 2, *s.compute_ms, value_or(s.hop_in_ms, 0), s.device, "measured");
  }
  const double y = top + r.stages.size() * group_h;
  svg += text(8, y + bar_h + 2, "return hop");
  bar(y, 0, r.predicted_return_ms, "return hop", "predicted");
  if (r.return_ms) bar(y + bar_h + 2, 0, *r.return_ms, "return hop", "measured");
  svg += legend(left, height - 10);
  svg += "</svg>\n";
  return svg;
}

}  // namespace baton::sim
