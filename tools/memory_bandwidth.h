// The roofline's denominator (bandwidth, measured by node/host_calibration) and peak RSS
// for `baton bench`.
#pragma once

#include <cstddef>

#include "node/stage/host_calibration.h"

namespace baton::cli {

using baton::measure_read_bandwidth;

// Peak resident set size of this process in bytes.
size_t peak_rss_bytes();

}  // namespace baton::cli
