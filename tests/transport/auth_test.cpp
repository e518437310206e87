#include <gtest/gtest.h>

#include <set>

#include "transport/auth.h"

namespace baton {
namespace {

TEST(Auth, NewSecretsAreLongUrlSafeAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const std::string s = new_cluster_secret();
    ASSERT_EQ(s.size(), 32u) << s;
    for (char c : s) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << s;
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_EQ(resolve_secret(*seen.begin()), *seen.begin()) << "a new secret is accepted where secrets are read";
}

TEST(Auth, SecretResolution) {
  EXPECT_EQ(resolve_secret("long enough"), "long enough");
  EXPECT_THROW(resolve_secret("short"), std::invalid_argument);
}

}  // namespace
}  // namespace baton
