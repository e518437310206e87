#include "transport/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <stdexcept>

namespace baton {

namespace {

Bytes hmac(std::string_view secret, std::string_view context, const Bytes& a, const Bytes& b, std::string_view tail) {
  Bytes msg;
  msg.reserve(context.size() + a.size() + b.size() + tail.size());
  msg.insert(msg.end(), context.begin(), context.end());
  msg.insert(msg.end(), a.begin(), a.end());
  msg.insert(msg.end(), b.begin(), b.end());
  msg.insert(msg.end(), tail.begin(), tail.end());
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), msg.data(), msg.size(), out.data(), &len)) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  out.resize(len);
  return out;
}

}  // namespace

Bytes random_nonce() {
  Bytes n(kNonceBytes);
  if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1) throw std::runtime_error("no randomness for a nonce");
  return n;
}

Bytes join_mac(std::string_view secret, const Bytes& node_nonce, const Bytes& client_nonce, std::string_view role) {
  return hmac(secret, "baton-join-v1", node_nonce, client_nonce, role);
}

Bytes proof_mac(std::string_view secret, const Bytes& node_nonce, const Bytes& client_nonce) {
  return hmac(secret, "baton-proof-v1", node_nonce, client_nonce, "");
}

bool macs_equal(const Bytes& a, const Bytes& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string resolve_secret(const std::string& flag_value) {
  std::string s = flag_value;
  if (s.empty()) {
    if (const char* env = std::getenv("BATON_SECRET")) s = env;
  }
  if (s.empty()) throw std::invalid_argument("no cluster secret: pass --secret or set BATON_SECRET");
  if (s.size() < 8) throw std::invalid_argument("the cluster secret must be at least 8 characters");
  return s;
}

}  // namespace baton
