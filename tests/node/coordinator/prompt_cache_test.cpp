// The prompt cache's slot choice: longest shared prefix among free slots, else the least
// recently used free slot (empty ones first); busy slots and slots beyond the usable
// count are never chosen.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace baton
