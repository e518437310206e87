// The connection handshake as any peer on the network could send it, before it has
// proved anything: header and body decoding, then the SPAKE2 step on whatever key share
// decodes (point parsing and validation).
#include <cstdint>
#include <span>

#include "transport/handshake_messages.h"
#include "transport/secure_channel.h"
#include "transport/spake2.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace baton;
  if (size < kHandshakeHeaderBytes) return 0;
  const std::span<const uint8_t> header(data, kHandshakeHeaderBytes);
  const std::span<const uint8_t> body(data + kHandshakeHeaderBytes, size - kHandshakeHeaderBytes);
  try {
    if (handshake_body_length(header) > kMaxHandshakeBody) __builtin_trap();
    const HandshakeMessage m = decode_handshake(header, body);
    // What decodes re-encodes, and decodes to the same again.
    const Bytes again = encode_handshake(m);
    const HandshakeMessage m2 = decode_handshake(std::span(again.data(), kHandshakeHeaderBytes),
                                                 std::span(again.data() + kHandshakeHeaderBytes,
                                                           again.size() - kHandshakeHeaderBytes));
    if (m2.index() != m.index() || encode_handshake(m2) != again) __builtin_trap();
    const Bytes* share = nullptr;
    if (auto* h = std::get_if<ClientHello>(&m)) share = &h->share;
    if (auto* s = std::get_if<ServerHello>(&m)) share = &s->share;
    if (share) {
      static const Bytes scalar(32, 9);  // fixed: the run stays deterministic
      Spake2 b(Spake2::Side::B, "fuzz-secret", scalar);
      try {
        const auto r = b.finish(*share, channel_identity("coordinator"), channel_identity("node"), kChannelAad);
        if (r.session_key.size() != 16 || r.peer_confirmation.size() != kSpake2ConfirmBytes) __builtin_trap();
      } catch (const Spake2Error&) {
      }
    }
  } catch (const HandshakeError&) {
  }
  return 0;
}
