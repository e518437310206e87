// The prompt cache's slot choice: longest reusable prefix among free slots, else the least
// recently used free slot (empty ones first); busy slots and slots beyond the usable
// count are never chosen. With sliding-window layers a slot may share more than it can
// reuse.
#include <gtest/gtest.h>

#include <numeric>

#include "model/sliding_window.h"
#include "node/coordinator/prompt_cache.h"

namespace baton {
namespace {

using Ids = std::vector<int32_t>;

TEST(PromptCache, LongestSharedPrefixAmongFreeSlotsWins) {
  PromptCache c(3);
  c.take(0);
  c.release(0, {1, 2, 3, 4});
  c.take(1);
  c.release(1, {1, 2, 9});
  const Ids turn2 = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(c.choose(turn2, 3), 0u);
  EXPECT_EQ(c.shared_prefix(0, turn2), 4u);
  EXPECT_EQ(c.choose(Ids{1, 2, 9, 9}, 3), 1u);
  c.take(0);
  EXPECT_EQ(c.choose(turn2, 3), 1u) << "a busy slot is not chosen: the next best (shares 1, 2)";
  c.take(1);
  c.take(2);
  EXPECT_FALSE(c.choose(turn2, 3)) << "all busy";
  EXPECT_THROW(c.take(2), std::logic_error);
}

TEST(PromptCache, NothingSharedTakesAnEmptySlotThenTheLeastRecentlyUsed) {
  PromptCache c(3);
  c.take(0);
  c.release(0, {1, 5});
  c.take(1);
  c.release(1, {1, 6});
  EXPECT_EQ(c.choose(Ids{7}, 3), 2u) << "the empty slot before overwriting a cache";
  c.take(2);
  c.release(2, {1, 7});
  EXPECT_EQ(c.choose(Ids{8}, 3), 0u) << "least recently used";
  c.take(0);
  c.release(0, {1, 5, 5});
  EXPECT_EQ(c.choose(Ids{8}, 3), 1u);
  c.forget(2);
  EXPECT_TRUE(c.cached(2).empty());
  EXPECT_EQ(c.choose(Ids{8}, 3), 2u) << "a forgotten slot is empty again";
}

TEST(PromptCache, OnlyTheUsableSlotsAreChosen) {
  PromptCache c(4);
  c.take(3);
  c.release(3, {1, 2, 3});
  EXPECT_EQ(c.choose(Ids{1, 2, 3}, 2), 0u) << "slot 3 is beyond what the stages reserved for now";
  EXPECT_EQ(c.choose(Ids{1, 2, 3}, 4), 3u);
}

// Gemma-like: every other layer sees a window of 32 positions, so those layers keep
// 31 + kSlidingRollback + kSlidingHeadroom = 159 rows of a 1024-position context. A slot
// whose conversation ran to 400 positions holds the windowed layers' keys only from about
// 240 on: a request sharing its first 100 tokens cannot reuse them, and a slot that
// shares 50 and never slid is the better choice.
TEST(PromptCache, ASlotWhoseWindowsDroppedTheSharedPrefixLosesToOneThatKeptLess) {
  const SlidingWindows windows{32, {true, false, true, false}};
  const int64_t context = 1024;
  ASSERT_LT(windows.sliding_rows(context), 400);
  PromptCache c(2, [&](size_t shared, size_t held) {
    return static_cast<size_t>(windows.reusable_prefix(context, static_cast<int64_t>(held), static_cast<int64_t>(shared)));
  });
  Ids long_chat(400), short_chat(120), input(150);
  std::iota(long_chat.begin(), long_chat.end(), 1);
  std::iota(input.begin(), input.end(), 1);  // shares 150 with the long chat
  std::iota(short_chat.begin(), short_chat.begin() + 50, 1);
  std::fill(short_chat.begin() + 50, short_chat.end(), 7);  // shares 50
  input[100] = -1;                                          // the long chat: 100 shared
  c.take(0);
  c.release(0, long_chat);
  c.take(1);
  c.release(1, short_chat);
  EXPECT_EQ(c.shared_prefix(0, input), 100u);
  EXPECT_EQ(c.reusable_prefix(0, input), 0u) << "the windowed layers dropped what a rollback to 100 needs";
  EXPECT_EQ(c.reusable_prefix(1, input), 50u) << "never slid: everything shared is held";
  EXPECT_EQ(c.choose(input, 2), 1u);

  // A follow-up that shares all but the last turn's tail is within the rollback margin.
  Ids follow_up(long_chat.begin(), long_chat.end() - 10);
  follow_up.push_back(-2);
  EXPECT_EQ(c.reusable_prefix(0, follow_up), 390u);
  EXPECT_EQ(c.choose(follow_up, 2), 0u);

  // Without the rule (every shared position reusable) the long chat would have won.
  PromptCache plain(2);
  plain.take(0);
  plain.release(0, long_chat);
  plain.take(1);
  plain.release(1, short_chat);
  EXPECT_EQ(plain.choose(input, 2), 0u);
}

}  // namespace
}  // namespace baton
