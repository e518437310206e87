// Encrypted, mutually authenticated baton connections. Before anything else, the two
// ends run a SPAKE2 handshake on the cluster secret (transport/spake2.h, messages in
// transport/handshake_messages.h); afterwards every byte travels in AES-256-GCM records
// under per-direction keys derived from it, with a counter nonce, so a relay or a
// neighbour can neither read, inject, replay, reorder nor splice traffic. The result is a
// kj::AsyncIoStream the Cap'n Proto two-party network runs over unchanged.
#pragma once

#include <kj/async-io.h>
#include <kj/timer.h>

#include <memory>
#include <optional>
#include <string>

#include "transport/aead.h"
#include "transport/spake2.h"

namespace baton {

inline constexpr uint32_t kChannelProtocolVersion = 2;  // == rpc::PROTOCOL_VERSION
inline constexpr size_t kMaxRecordBytes = 64 * 1024;    // plaintext per record

// Record stream: [u32 big-endian plaintext length][ciphertext][16-byte tag], the length
// authenticated as additional data, nonce = 4 zero bytes || 64-bit record counter.
class SecureStream final : public kj::AsyncIoStream {
 public:
  SecureStream(kj::Own<kj::AsyncIoStream> inner, const Bytes& send_key, const Bytes& receive_key);

  kj::Promise<size_t> tryRead(void* buffer, size_t minBytes, size_t maxBytes) override;
  kj::Promise<void> write(const void* buffer, size_t size) override;
  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override;
  kj::Promise<void> whenWriteDisconnected() override { return inner_->whenWriteDisconnected(); }
  void shutdownWrite() override { inner_->shutdownWrite(); }
  void abortRead() override { inner_->abortRead(); }
  void getsockopt(int level, int option, void* value, kj::uint* length) override {
    inner_->getsockopt(level, option, value, length);
  }
  void setsockopt(int level, int option, const void* value, kj::uint length) override {
    inner_->setsockopt(level, option, value, length);
  }
  void getsockname(struct sockaddr* addr, kj::uint* length) override { inner_->getsockname(addr, length); }
  void getpeername(struct sockaddr* addr, kj::uint* length) override { inner_->getpeername(addr, length); }

  uint64_t records_sent() const { return send_counter_; }
  uint64_t bytes_sent_on_wire() const { return wire_bytes_sent_; }

 private:
  kj::Promise<size_t> read_more(kj::byte* out, size_t min, size_t max, size_t done);
  kj::Promise<bool> next_record();  // false at a clean end of stream
  Bytes nonce_for(uint64_t counter) const;

  kj::Own<kj::AsyncIoStream> inner_;
  Aead sender_, receiver_;
  uint64_t send_counter_ = 0, receive_counter_ = 0, wire_bytes_sent_ = 0;
  uint8_t header_[4];
  kj::Array<kj::byte> cipher_;  // one record's ciphertext + tag
  Bytes plain_;                 // decrypted, not yet read
  size_t plain_pos_ = 0;
  bool eof_ = false;
};

// Who is at the other end, as proved by the handshake.
struct SecureChannel {
  kj::Own<kj::AsyncIoStream> stream;  // a SecureStream
  std::string peer_role;
};

// A listener's handshake: the channel, or why not. A peer that got this side's key
// confirmation and did not answer it correctly spent a guess at the secret (what the
// listener's rate limiter counts).
struct ListenerOutcome {
  kj::Maybe<SecureChannel> channel;
  std::string error;
  bool spent_a_guess = false;
};

// The dialling side. `role` is what this process joins as ("coordinator", "stage", ...);
// rejects with a message naming `address` and the reason (wrong secret, older version,
// refused by the listener, ...).
kj::Promise<SecureChannel> handshake_as_dialler(kj::Own<kj::AsyncIoStream> raw, std::string secret, std::string role,
                                                std::string address);

// How far a listener's handshake has come, kept current while it runs, so that a caller
// that abandons it (deadline, eviction) still knows what the peer did.
struct HandshakeProgress {
  bool heard_hello = false;    // the peer sent a whole, well-formed hello
  bool spent_a_guess = false;  // the peer holds this side's confirmation and has not answered it
};

// The listening side. `role` is what this process serves ("node" or "coordinator").
// Never rejects; a refusal has been sent to the peer when possible. `progress`, if given,
// is updated as the handshake advances.
kj::Promise<ListenerOutcome> handshake_as_listener(kj::Own<kj::AsyncIoStream> raw, std::string secret,
                                                 std::string role,
                                                 std::shared_ptr<HandshakeProgress> progress = nullptr);

// Sends a refusal (before any handshake) and hangs up: for peers turned away by limits.
kj::Promise<void> refuse_connection(kj::Own<kj::AsyncIoStream> raw, std::string reason);

// The identities bound into the SPAKE2 transcript, e.g. "baton/2 coordinator".
std::string channel_identity(const std::string& role);
inline constexpr const char* kChannelAad = "baton channel";

}  // namespace baton
