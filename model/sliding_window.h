// Sliding-window layers (Gemma 2 / 3) and the KV positions they keep. A query at position
// p in such a layer reads only p - window + 1 .. p, so its cache holds the last positions
// it can still read, not the whole context: on Gemma 3 at a 32k context, 5 of 6 layers
// keep ~1.1k positions instead of 32k.
//
// How much a sliding layer keeps (one rule for the caches, the planner and the
// coordinator, so that they agree without talking):
//   rows = window - 1 + kSlidingRollback + kSlidingHeadroom   (capped by the context)
// The layer's rows hold a contiguous run of positions; when a write would run past them,
// the run slides forward, keeping the window - 1 + kSlidingRollback positions before the
// write. Attention then reads a contiguous slice as it does for a full cache (same rows,
// same order: the results are bit for bit those of a full cache), and at most
// kSlidingHeadroom positions are written between slides.
//
// Rolling back (speculative drafts rejected, a shared prompt prefix) to r positions needs
// the window - 1 positions before r. They are certainly held when r >= high - kSlidingRollback,
// where `high` is the most positions the cache held since it was last emptied, or when the
// cache never slid (high <= rows). Emptying it (r = 0) always works. Any other r is refused:
// a cache never answers with keys it has dropped.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace baton {

class GgufFile;

// Positions a rollback may always go back (>= the 32 drafts a speculative step may carry).
inline constexpr int64_t kSlidingRollback = 64;
// Positions written between two slides of a sliding layer's rows (larger: fewer, bigger
// copies; more memory).
inline constexpr int64_t kSlidingHeadroom = 64;

// Which layers attend through a sliding window of `window` positions (their own included).
struct SlidingWindows {
  int window = 0;             // 0: every layer sees all earlier positions
  std::vector<bool> sliding;  // per model layer

  bool slides(int layer) const {
    return window > 0 && layer >= 0 && static_cast<size_t>(layer) < sliding.size() && sliding[static_cast<size_t>(layer)];
  }
  // How many layers slide (0 without a window).
  int sliding_layers() const;
  // Rows a sliding layer keeps at a context of `context` positions.
  int64_t sliding_rows(int64_t context) const;
  // Rows layer `layer` keeps at a context of `context` positions.
  int64_t rows(int layer, int64_t context) const;
  // Rows the layers [first, last) keep together.
  int64_t rows(int first, int last, int64_t context) const;
  // The longest prefix of at most n positions a cache of this shape can roll back to, given
  // the most positions it held since it was last emptied (see the rule above): n, or 0.
  int64_t reusable_prefix(int64_t context, int64_t high, int64_t n) const;
};

// Reads "<arch>.attention.sliding_window" and "<arch>.attention.sliding_window_pattern"
// with llama.cpp's defaults (model/hparams_gemma.cpp): for gemma2 and gemma3, empty for any
// other architecture. Throws GgufError naming the key for a bad value.
SlidingWindows read_sliding_windows(const GgufFile& file, std::string_view arch_name, int n_layers);

}  // namespace baton
