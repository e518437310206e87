// Cluster authentication: a shared secret never crosses the wire. Each side sends a
// fresh random nonce; the joining peer answers with HMAC-SHA256(secret, context || node
// nonce || client nonce) and the node answers with the same MAC under a different
// context, so each proves knowledge of the secret to the other (mutual, replay-proof).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace baton {

using Bytes = std::vector<uint8_t>;

inline constexpr size_t kNonceBytes = 32;
inline constexpr size_t kMacBytes = 32;

Bytes random_nonce();  // from OpenSSL's CSPRNG; throws if it fails

// What the joining peer sends, and what the node sends back as proof.
Bytes join_mac(std::string_view secret, const Bytes& node_nonce, const Bytes& client_nonce, std::string_view role);
Bytes proof_mac(std::string_view secret, const Bytes& node_nonce, const Bytes& client_nonce);

// Constant-time comparison (so timing does not reveal how many bytes matched).
bool macs_equal(const Bytes& a, const Bytes& b);

// The secret from --secret or $BATON_SECRET; throws std::invalid_argument if neither is
// set or it is shorter than 8 bytes.
std::string resolve_secret(const std::string& flag_value);

}  // namespace baton
