// SPAKE2 (RFC 9382) over P-256 with SHA-256, HKDF-SHA256 and HMAC-SHA256: the password-
// authenticated key exchange every baton connection starts with. Both sides derive the
// same session key only if both know the cluster secret; a peer that does not know it
// learns nothing it can test guesses against offline (each connection is worth one
// online guess). A pure core: no sockets, no clocks.
//
//   A (dialler)  -> pA = x*P + w*M
//   B (listener) -> pB = y*P + w*N, cB = MAC(KcB, TT)
//   A            -> cA = MAC(KcA, TT)           (only after checking cB)
//
// TT binds both identities (role and protocol version), both shares, the shared point
// and w, so a message relayed into another connection or role does not verify.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace baton {

using Bytes = std::vector<uint8_t>;

inline constexpr size_t kSpake2ShareBytes = 65;  // uncompressed SEC1 P-256 point
inline constexpr size_t kSpake2ConfirmBytes = 32;

class Spake2Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Spake2Result {
  Bytes session_key;        // Ke: 16 bytes, input to the traffic keys
  Bytes transcript_hash;    // SHA-256 of the public part of TT (ids, shares): salt for traffic keys
  Bytes my_confirmation;    // what this side sends
  Bytes peer_confirmation;  // what the other side must send
};

class Spake2 {
 public:
  enum class Side { A, B };
  // `scalar` (32 bytes) fixes the private scalar, for tests only; empty draws it from
  // OpenSSL's CSPRNG.
  Spake2(Side side, std::string_view secret, const Bytes& scalar = {});
  ~Spake2();
  Spake2(const Spake2&) = delete;
  Spake2& operator=(const Spake2&) = delete;

  const Bytes& share() const { return share_; }
  // The other side's share: throws Spake2Error if it is not a valid point of the group
  // (or the identity after removing the password blinding). id_a / id_b name the two ends
  // (role and protocol version); aad is context bound into the confirmation keys.
  Spake2Result finish(const Bytes& peer_share, std::string_view id_a, std::string_view id_b, std::string_view aad);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Side side_;
  Bytes share_;
};

// Constant-time equality for confirmations and tags.
bool bytes_equal(const Bytes& a, const Bytes& b);

// HKDF-SHA256 (RFC 5869).
Bytes hkdf_sha256(const Bytes& key, const Bytes& salt, std::string_view info, size_t length);

}  // namespace baton
