#include "model/sliding_window.h"

#include <algorithm>

namespace baton {

int SlidingWindows::sliding_layers() const {
  return window > 0 ? static_cast<int>(std::count(sliding.begin(), sliding.end(), true)) : 0;
}

int64_t SlidingWindows::sliding_rows(int64_t context) const {
  return std::min<int64_t>(context, window - 1 + kSlidingRollback + kSlidingHeadroom);
}

int64_t SlidingWindows::rows(int layer, int64_t context) const {
  return slides(layer) ? sliding_rows(context) : context;
}

int64_t SlidingWindows::rows(int first, int last, int64_t context) const {
  int64_t total = 0;
  for (int il = first; il < last; ++il) total += rows(il, context);
  return total;
}

int64_t SlidingWindows::reusable_prefix(int64_t context, int64_t high, int64_t n) const {
  if (n <= 0) return 0;
  // Nothing slides, or the rows never slid: every position is still held.
  if (sliding_layers() == 0 || sliding_rows(context) >= context || high <= sliding_rows(context)) return n;
  return n >= high - kSlidingRollback ? n : 0;
}

}  // namespace baton
