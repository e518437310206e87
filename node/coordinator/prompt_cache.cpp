#include "node/coordinator/prompt_cache.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace baton {

PromptCache::PromptCache(size_t slots)
    : PromptCache(slots, [](size_t shared, size_t) { return shared; }) {}

PromptCache::PromptCache(size_t slots, Reusable reusable) : slots_(slots), reusable_(std::move(reusable)) {
  if (!reusable_) throw std::invalid_argument("prompt cache: no reusability rule");
}

size_t PromptCache::shared_prefix(size_t slot, std::span<const int32_t> input) const {
  const auto& cached = slots_.at(slot).cached;
  size_t n = 0;
  while (n < cached.size() && n < input.size() && cached[n] == input[n]) ++n;
  return n;
}

size_t PromptCache::reusable_prefix(size_t slot, std::span<const int32_t> input) const {
  const size_t shared = shared_prefix(slot, input);
  if (shared == 0) return 0;
  // A slot's stages held at least its cached tokens (more when drafts were rolled back
  // at the end; the backend's own check then still refuses what they dropped).
  return std::min(shared, reusable_(shared, slots_[slot].cached.size()));
}

std::optional<size_t> PromptCache::choose(std::span<const int32_t> input, size_t usable) const {
  std::optional<size_t> best;
  size_t best_shared = 0;
  for (size_t i = 0; i < std::min(usable, slots_.size()); ++i) {
    if (slots_[i].busy) continue;
    const size_t shared = reusable_prefix(i, input);
    // Longest reusable prefix; among equals (none shared, most often) the least recently
    // used, whose cache is the one least likely to be asked for again.
    if (!best || shared > best_shared || (shared == best_shared && slots_[i].last_used < slots_[*best].last_used)) {
      best = i;
      best_shared = shared;
    }
  }
  return best;
}

void PromptCache::take(size_t slot) {
  if (slots_.at(slot).busy) throw std::logic_error("prompt cache: slot taken twice");
  slots_[slot].busy = true;
}

void PromptCache::release(size_t slot, std::vector<int32_t> cached) {
  Slot& s = slots_.at(slot);
  s.busy = false;
  s.cached = std::move(cached);
  s.last_used = ++clock_;
}

void PromptCache::forget(size_t slot) {
  Slot& s = slots_.at(slot);
  s.busy = false;
  s.cached.clear();
  s.last_used = 0;  // empty: the first to be taken by a request sharing nothing
}

}  // namespace baton
