// The cluster secret: where it comes from and how a strong one is made. The secret never
// crosses the wire and nothing that does lets anyone test a guess at it offline: every
// connection proves it with a SPAKE2 handshake (transport/spake2.h,
// transport/secure_channel.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace baton {

using Bytes = std::vector<uint8_t>;

inline constexpr size_t kNonceBytes = 32;

Bytes random_nonce();  // from OpenSSL's CSPRNG; throws if it fails

// A fresh secret for a new cluster: 24 random bytes (192 bits) as 32 URL-safe base64
// characters, easy to paste into a shell or a config file.
std::string new_cluster_secret();

// The secret from --secret or $BATON_SECRET; throws std::invalid_argument if neither is
// set or it is shorter than 8 bytes.
std::string resolve_secret(const std::string& flag_value);

}  // namespace baton
