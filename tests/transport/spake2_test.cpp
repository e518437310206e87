#include <gtest/gtest.h>

#include "transport/spake2.h"

namespace baton {
namespace {

const char* kA = "baton/2 coordinator";
const char* kB = "baton/2 node";
const char* kAad = "baton channel";

std::string fmt_hex(uint8_t b) {
  static const char* d = "0123456789abcdef";
  return {d[b >> 4], d[b & 15]};
}

struct Exchanged {
  Spake2Result a, b;
};
Exchanged exchange(const std::string& secret_a, const std::string& secret_b, const char* id_a = kA, const char* id_b = kB) {
  Spake2 a(Spake2::Side::A, secret_a), b(Spake2::Side::B, secret_b);
  return {a.finish(b.share(), id_a, id_b, kAad), b.finish(a.share(), id_a, id_b, kAad)};
}

TEST(Spake2, SameSecretGivesTheSameKeyAndMatchingConfirmations) {
  const Exchanged r = exchange("correct horse battery", "correct horse battery");
  EXPECT_EQ(r.a.session_key.size(), 16u);
  EXPECT_EQ(r.a.session_key, r.b.session_key);
  EXPECT_EQ(r.a.transcript_hash, r.b.transcript_hash);
  EXPECT_EQ(r.a.my_confirmation, r.b.peer_confirmation);
  EXPECT_EQ(r.b.my_confirmation, r.a.peer_confirmation);
  EXPECT_NE(r.a.my_confirmation, r.b.my_confirmation) << "the two directions confirm with different keys";
  // Fresh scalars: a second run gives a different key.
  EXPECT_NE(exchange("correct horse battery", "correct horse battery").a.session_key, r.a.session_key);
}

TEST(Spake2, DifferentSecretsDisagreeOnEverythingSecret) {
  const Exchanged r = exchange("correct horse battery", "correct horse batterz");
  EXPECT_NE(r.a.session_key, r.b.session_key);
  EXPECT_NE(r.a.my_confirmation, r.b.peer_confirmation);
  EXPECT_NE(r.b.my_confirmation, r.a.peer_confirmation);
}

TEST(Spake2, IdentitiesAreBound) {
  // Same secret, but B believes it talks to a "stage" while A joined as "coordinator":
  // the confirmations do not match, so a relayed hello cannot change the role.
  Spake2 a(Spake2::Side::A, "s3cret-s3cret"), b(Spake2::Side::B, "s3cret-s3cret");
  const auto ra = a.finish(b.share(), kA, kB, kAad);
  const auto rb = b.finish(a.share(), "baton/2 stage", kB, kAad);
  EXPECT_NE(ra.my_confirmation, rb.peer_confirmation);
  EXPECT_NE(ra.session_key, rb.session_key);
  // Another protocol version in the identity fails the same way.
  Spake2 c(Spake2::Side::A, "s3cret-s3cret"), d(Spake2::Side::B, "s3cret-s3cret");
  EXPECT_NE(c.finish(d.share(), kA, kB, kAad).my_confirmation,
            d.finish(c.share(), "baton/1 coordinator", kB, kAad).peer_confirmation);
}

TEST(Spake2, AFixedScalarIsDeterministicAndSharesArePoints) {
  const Bytes scalar(32, 7);
  Spake2 a1(Spake2::Side::A, "secret-one", scalar), a2(Spake2::Side::A, "secret-one", scalar);
  EXPECT_EQ(a1.share(), a2.share());
  ASSERT_EQ(a1.share().size(), kSpake2ShareBytes);
  EXPECT_EQ(a1.share()[0], 0x04) << "uncompressed SEC1";
  // The share blinds with the secret: another secret gives another share.
  Spake2 a3(Spake2::Side::A, "secret-two", scalar);
  EXPECT_NE(a1.share(), a3.share());
}

TEST(Spake2, MalformedSharesAreRefused) {
  Spake2 a(Spake2::Side::A, "secret-one");
  EXPECT_THROW(a.finish(Bytes(10, 4), kA, kB, kAad), Spake2Error);
  Bytes not_on_curve(kSpake2ShareBytes, 0x11);
  not_on_curve[0] = 0x04;
  EXPECT_THROW(a.finish(not_on_curve, kA, kB, kAad), Spake2Error);
  EXPECT_THROW(a.finish(Bytes(kSpake2ShareBytes, 0), kA, kB, kAad), Spake2Error);
  // B's share with the blinding of the same secret removed to the identity is impossible
  // to build without a discrete log; the own share of A (wrong blinding point) still
  // yields some key but no match with anyone.
  Spake2 b(Spake2::Side::B, "secret-one");
  const auto ra = a.finish(a.share(), kA, kB, kAad);
  EXPECT_NE(ra.session_key, b.finish(a.share(), kA, kB, kAad).session_key);
}

TEST(Spake2, HkdfMatchesRfc5869TestCase1) {
  const Bytes ikm(22, 0x0b);
  const Bytes salt = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c};
  const std::string info = {'\xf0', '\xf1', '\xf2', '\xf3', '\xf4', '\xf5', '\xf6', '\xf7', '\xf8', '\xf9'};
  const Bytes okm = hkdf_sha256(ikm, salt, info, 42);
  const char* expect =
      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865";
  std::string hex;
  for (uint8_t b : okm) hex += fmt_hex(b);
  EXPECT_EQ(hex, expect);
}

}  // namespace
}  // namespace baton
