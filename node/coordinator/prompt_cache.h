// The prompt cache's decisions, without I/O: which of the coordinator's KV slots a new
// request goes to. Every slot keeps the KV of its last conversation on the stages after
// the request ends (within the KV memory every stage reserved for that many sessions),
// so a request that starts with a prefix some slot holds (a system prompt, the earlier
// turns of a chat) sends only its new tokens. A request takes the free slot that can reuse
// the longest prefix of its input; with none, the least recently used free slot, whose
// cache it overwrites. What a slot can reuse is not always what it shares: a model with
// sliding-window layers (Gemma) keeps only the last positions of those layers, so a slot
// whose conversation ran far past the shared prefix can reuse none of it (see
// model/sliding_window.h), and a slot sharing less may be the better choice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace baton {

class PromptCache {
 public:
  // How many of `shared` leading positions a slot whose stages hold `held` positions can
  // keep: `shared`, or less when its caches dropped what a rollback to `shared` needs.
  using Reusable = std::function<size_t(size_t shared, size_t held)>;

  // Every shared position reusable (no sliding-window layers).
  explicit PromptCache(size_t slots);
  PromptCache(size_t slots, Reusable reusable);

  // The slot for `input` among the first `usable` slots (nullopt when all are busy).
  std::optional<size_t> choose(std::span<const int32_t> input, size_t usable) const;
  // Tokens of `input` the slot already holds (its common prefix).
  size_t shared_prefix(size_t slot, std::span<const int32_t> input) const;
  // Of those, the ones the slot's stages can keep (the rest are computed again).
  size_t reusable_prefix(size_t slot, std::span<const int32_t> input) const;
  void take(size_t slot);
  // The request ended: the slot is free and its stages hold `cached` (every position's
  // token); it is now the most recently used.
  void release(size_t slot, std::vector<int32_t> cached);
  // The slot's caches are gone (dropped, or its request failed).
  void forget(size_t slot);

  bool busy(size_t slot) const { return slots_.at(slot).busy; }
  const std::vector<int32_t>& cached(size_t slot) const { return slots_.at(slot).cached; }
  size_t size() const { return slots_.size(); }

 private:
  struct Slot {
    bool busy = false;
    std::vector<int32_t> cached;
    uint64_t last_used = 0;  // 0: never
  };
  std::vector<Slot> slots_;
  Reusable reusable_;
  uint64_t clock_ = 0;
};

}  // namespace baton
