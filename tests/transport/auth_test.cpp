#include <gtest/gtest.h>

#include "transport/auth.h"

namespace baton {
namespace {

TEST(Auth, MacDependsOnSecretNoncesAndRole) {
  const Bytes n1 = random_nonce(), n2 = random_nonce();
  ASSERT_EQ(n1.size(), kNonceBytes);
  EXPECT_NE(n1, n2);
  const Bytes mac = join_mac("correct horse", n1, n2, "coordinator");
  EXPECT_EQ(mac.size(), kMacBytes);
  EXPECT_TRUE(macs_equal(mac, join_mac("correct horse", n1, n2, "coordinator")));
  EXPECT_FALSE(macs_equal(mac, join_mac("wrong horse!", n1, n2, "coordinator")));
  EXPECT_FALSE(macs_equal(mac, join_mac("correct horse", n2, n1, "coordinator")));
  EXPECT_FALSE(macs_equal(mac, join_mac("correct horse", n1, n2, "stage")));
  // The node's proof is a different MAC, so a join MAC cannot be replayed as proof.
  EXPECT_FALSE(macs_equal(mac, proof_mac("correct horse", n1, n2)));
  EXPECT_FALSE(macs_equal(mac, Bytes(mac.begin(), mac.end() - 1)));
}

std::string hex(const Bytes& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s += d[x >> 4];
    s += d[x & 15];
  }
  return s;
}

// Expected values computed independently with Python's hmac module:
//   hmac.new(b'cluster-secret', b'baton-join-v1' + bytes(range(32)) + bytes(range(32, 64)) + b'stage', sha256)
TEST(Auth, KnownAnswerVectors) {
  Bytes node(32), client(32);
  for (int i = 0; i < 32; ++i) {
    node[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
    client[static_cast<size_t>(i)] = static_cast<uint8_t>(32 + i);
  }
  EXPECT_EQ(hex(join_mac("cluster-secret", node, client, "stage")),
            "2475aa8767e21f3a33d354db23709b3aeea81c79c199fac12ce6bac2d0e892ea");
  EXPECT_EQ(hex(proof_mac("cluster-secret", node, client)),
            "74789fe736ac047a013d3bebd9a938dcdc249202d053f92a5a370038a6199a9f");
}

TEST(Auth, SecretResolution) {
  EXPECT_EQ(resolve_secret("long enough"), "long enough");
  EXPECT_THROW(resolve_secret("short"), std::invalid_argument);
}

}  // namespace
}  // namespace baton
