#include "transport/aead.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

namespace baton {

struct Aead::Impl {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> enc{EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free};
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> dec{EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free};
};

Aead::Aead(std::span<const uint8_t> key) : impl_(std::make_unique<Impl>()) {
  if (key.size() != kAeadKeyBytes) throw AeadError("AEAD key of the wrong size");
  if (!impl_->enc || !impl_->dec ||
      EVP_EncryptInit_ex(impl_->enc.get(), EVP_aes_256_gcm(), nullptr, key.data(), nullptr) != 1 ||
      EVP_DecryptInit_ex(impl_->dec.get(), EVP_aes_256_gcm(), nullptr, key.data(), nullptr) != 1) {
    throw AeadError("AES-256-GCM setup failed");
  }
}

Aead::~Aead() = default;

void Aead::seal(std::span<const uint8_t> nonce, std::span<const uint8_t> aad, std::span<const uint8_t> plaintext,
                uint8_t* out) {
  EVP_CIPHER_CTX* c = impl_->enc.get();
  int len = 0;
  if (nonce.size() != kAeadNonceBytes || EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data()) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(c, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      (!plaintext.empty() &&
       EVP_EncryptUpdate(c, out, &len, plaintext.data(), static_cast<int>(plaintext.size())) != 1) ||
      EVP_EncryptFinal_ex(c, out + plaintext.size(), &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, kAeadTagBytes, out + plaintext.size()) != 1) {
    throw AeadError("AES-256-GCM encryption failed");
  }
}

bool Aead::open(std::span<const uint8_t> nonce, std::span<const uint8_t> aad, std::span<const uint8_t> in,
                uint8_t* out) {
  if (in.size() < kAeadTagBytes || nonce.size() != kAeadNonceBytes) return false;
  EVP_CIPHER_CTX* c = impl_->dec.get();
  const size_t n = in.size() - kAeadTagBytes;
  int len = 0;
  uint8_t tag[kAeadTagBytes];
  std::copy(in.begin() + static_cast<std::ptrdiff_t>(n), in.end(), tag);
  if (EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data()) != 1) return false;
  if (!aad.empty() && EVP_DecryptUpdate(c, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) return false;
  if (n > 0 && EVP_DecryptUpdate(c, out, &len, in.data(), static_cast<int>(n)) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, kAeadTagBytes, tag) != 1) return false;
  return EVP_DecryptFinal_ex(c, out + n, &len) == 1;
}

std::vector<uint8_t> random_bytes(size_t n) {
  std::vector<uint8_t> out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) throw AeadError("no randomness available");
  return out;
}

std::vector<uint8_t> seal_message(Aead& aead, std::span<const uint8_t> plaintext) {
  std::vector<uint8_t> out = random_bytes(kAeadNonceBytes);
  out.resize(kAeadNonceBytes + plaintext.size() + kAeadTagBytes);
  aead.seal(std::span(out.data(), kAeadNonceBytes), {}, plaintext, out.data() + kAeadNonceBytes);
  return out;
}

std::vector<uint8_t> open_message(Aead& aead, std::span<const uint8_t> sealed) {
  if (sealed.size() < kAeadNonceBytes + kAeadTagBytes) throw AeadError("sealed message too short");
  std::vector<uint8_t> out(sealed.size() - kAeadNonceBytes - kAeadTagBytes);
  if (!aead.open(sealed.first(kAeadNonceBytes), {}, sealed.subspan(kAeadNonceBytes), out.data())) {
    throw AeadError("sealed message does not verify (forged, corrupted or under another key)");
  }
  return out;
}

}  // namespace baton
