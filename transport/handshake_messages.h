// The messages of baton's connection handshake, exchanged in the clear before anything
// else is read from a connection (and before any Cap'n Proto is parsed). Each is a 5-byte
// header ("bP", type, body length as u16 big-endian) and a body of at most
// kMaxHandshakeBody bytes, so a peer that has proved nothing costs at most that much
// memory. Pure encoding and decoding; transport/secure_channel does the I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "transport/spake2.h"

namespace baton {

inline constexpr size_t kHandshakeHeaderBytes = 5;
inline constexpr size_t kMaxHandshakeBody = 512;
inline constexpr size_t kMaxRoleBytes = 32;
inline constexpr size_t kMaxRefusalBytes = 400;

class HandshakeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Dialler -> listener: who it is and its SPAKE2 share.
struct ClientHello {
  uint32_t version = 0;
  std::string role;
  Bytes share;
};
// Listener -> dialler: who it is, its share and its key confirmation.
struct ServerHello {
  uint32_t version = 0;
  std::string role;
  Bytes share, confirmation;
};
// Dialler -> listener, only after checking the listener's confirmation.
struct ClientConfirm {
  Bytes confirmation;
};
// Listener -> dialler: the channel is up; everything after this is encrypted records.
struct Accepted {};
// Either way: why not, for a person to read; `version` is the sender's protocol.
struct Refusal {
  uint32_t version = 0;
  std::string reason;
};

using HandshakeMessage = std::variant<ClientHello, ServerHello, ClientConfirm, Accepted, Refusal>;

Bytes encode_handshake(const HandshakeMessage& m);

// The header alone: the body length it announces. Throws HandshakeError if the bytes are
// not a baton handshake header (with a hint when they look like an older baton's Cap'n
// Proto) or announce more than kMaxHandshakeBody.
size_t handshake_body_length(std::span<const uint8_t> header);

// Header + body. Throws HandshakeError naming what is wrong; never reads beyond `bytes`.
HandshakeMessage decode_handshake(std::span<const uint8_t> header, std::span<const uint8_t> body);

// True when the first bytes of a connection look like a Cap'n Proto message (what a peer
// of protocol version 1 sends first), so the refusal can say "upgrade" rather than "garbage".
bool looks_like_capnp(std::span<const uint8_t> first_bytes);

}  // namespace baton
