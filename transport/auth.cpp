#include "transport/auth.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <stdexcept>

namespace baton {

Bytes random_nonce() {
  Bytes n(kNonceBytes);
  if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1) throw std::runtime_error("no randomness for a nonce");
  return n;
}

std::string new_cluster_secret() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint8_t bytes[24];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) throw std::runtime_error("no randomness for a secret");
  std::string out;
  for (size_t i = 0; i < sizeof(bytes); i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> shift) & 63];
  }
  return out;
}

std::string resolve_secret(const std::string& flag_value) {
  std::string s = flag_value;
  if (s.empty()) {
    if (const char* env = std::getenv("BATON_SECRET")) s = env;
  }
  if (s.empty()) {
    throw std::invalid_argument("no cluster secret: pass --secret or set BATON_SECRET (`baton secret new` makes one)");
  }
  if (s.size() < 8) throw std::invalid_argument("the cluster secret must be at least 8 characters");
  return s;
}

}  // namespace baton
