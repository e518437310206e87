// AES-256-GCM with a fixed key (OpenSSL EVP): the authenticated encryption under baton's
// encrypted connections and sealed heartbeats. AES because every device baton targets
// has AES instructions (x86-64 AES-NI, ARMv8 crypto extensions).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <vector>

namespace baton {

inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadNonceBytes = 12;
inline constexpr size_t kAeadTagBytes = 16;

class AeadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Aead {
 public:
  explicit Aead(std::span<const uint8_t> key);  // kAeadKeyBytes
  ~Aead();
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;

  // out gets plaintext.size() + kAeadTagBytes bytes (ciphertext then tag).
  void seal(std::span<const uint8_t> nonce, std::span<const uint8_t> aad, std::span<const uint8_t> plaintext,
            uint8_t* out);
  // in is ciphertext then tag; out gets in.size() - kAeadTagBytes bytes. False if the
  // tag does not verify (out is then garbage).
  bool open(std::span<const uint8_t> nonce, std::span<const uint8_t> aad, std::span<const uint8_t> in, uint8_t* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One self-contained sealed message: random nonce || ciphertext || tag.
std::vector<uint8_t> seal_message(Aead& aead, std::span<const uint8_t> plaintext);
// Throws AeadError if it is too short or does not verify.
std::vector<uint8_t> open_message(Aead& aead, std::span<const uint8_t> sealed);

std::vector<uint8_t> random_bytes(size_t n);  // OpenSSL's CSPRNG; throws if it fails

}  // namespace baton
