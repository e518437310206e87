// Pictures of a simulation, as hand-written SVG text (no library): a timeline with one
// lane per device showing compute and transfer spans of the first decoded tokens, and a
// bar chart of each device's time per token, predicted next to measured. Pure functions.
#pragma once

#include <string>

#include "tools/simulate/report.h"

namespace baton::sim {

// The first `tokens` decoded tokens: as they travelled when the report has the
// coordinator's trace (all processes on this machine share one clock), else rebuilt from
// the per-token figures (measured where known, else predicted).
std::string timeline_svg(const RunReport& r, int tokens = 4);

// Per device: compute and hop-in ms per token, predicted bar above measured bar.
std::string bars_svg(const RunReport& r);

// Text safe inside SVG elements and attribute values.
std::string xml_escape(const std::string& text);

}  // namespace baton::sim
