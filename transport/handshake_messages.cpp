#include "transport/handshake_messages.h"

#include <fmt/format.h>

namespace baton {

namespace {

constexpr uint8_t kMagic0 = 'b', kMagic1 = 'P';
enum Type : uint8_t { kClientHello = 1, kServerHello = 2, kClientConfirm = 3, kAccepted = 4, kRefusal = 5 };

void put_u32(Bytes& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void put_short_string(Bytes& out, const std::string& s, size_t max, const char* what) {
  if (s.size() > max) throw HandshakeError(fmt::format("{} of {} bytes (at most {})", what, s.size(), max));
  out.push_back(static_cast<uint8_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

void put_fixed(Bytes& out, const Bytes& b, size_t size, const char* what) {
  if (b.size() != size) throw HandshakeError(fmt::format("{} of {} bytes (must be {})", what, b.size(), size));
  out.insert(out.end(), b.begin(), b.end());
}

// Reads fields from a body, refusing to run past its end.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> body) : body_(body) {}
  std::span<const uint8_t> take(size_t n, const char* what) {
    if (body_.size() - pos_ < n) throw HandshakeError(fmt::format("handshake message cut short in its {}", what));
    auto out = body_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  uint32_t u32(const char* what) {
    auto b = take(4, what);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  }
  std::string short_string(size_t max, const char* what) {
    const size_t n = take(1, what)[0];
    if (n > max) throw HandshakeError(fmt::format("handshake {} of {} bytes (at most {})", what, n, max));
    auto b = take(n, what);
    return std::string(b.begin(), b.end());
  }
  Bytes fixed(size_t n, const char* what) {
    auto b = take(n, what);
    return Bytes(b.begin(), b.end());
  }
  std::string rest() {
    auto b = body_.subspan(pos_);
    pos_ = body_.size();
    return std::string(b.begin(), b.end());
  }
  void done(const char* message) {
    if (pos_ != body_.size()) {
      throw HandshakeError(fmt::format("{} has {} unexpected trailing bytes", message, body_.size() - pos_));
    }
  }

 private:
  std::span<const uint8_t> body_;
  size_t pos_ = 0;
};

// Printable for a log line: a reason from an unauthenticated peer is shown, never obeyed.
std::string printable(std::string s) {
  for (char& c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return s;
}

}  // namespace

bool looks_like_capnp(std::span<const uint8_t> first_bytes) {
  // A Cap'n Proto stream message starts with (segment count - 1) as u32 little-endian;
  // baton's RPC messages have a handful of segments.
  return first_bytes.size() >= 4 && first_bytes[0] < 64 && first_bytes[1] == 0 && first_bytes[2] == 0 &&
         first_bytes[3] == 0;
}

Bytes encode_handshake(const HandshakeMessage& m) {
  Bytes body;
  uint8_t type = 0;
  if (auto* h = std::get_if<ClientHello>(&m)) {
    type = kClientHello;
    put_u32(body, h->version);
    put_short_string(body, h->role, kMaxRoleBytes, "role");
    put_fixed(body, h->share, kSpake2ShareBytes, "key share");
  } else if (auto* s = std::get_if<ServerHello>(&m)) {
    type = kServerHello;
    put_u32(body, s->version);
    put_short_string(body, s->role, kMaxRoleBytes, "role");
    put_fixed(body, s->share, kSpake2ShareBytes, "key share");
    put_fixed(body, s->confirmation, kSpake2ConfirmBytes, "key confirmation");
  } else if (auto* c = std::get_if<ClientConfirm>(&m)) {
    type = kClientConfirm;
    put_fixed(body, c->confirmation, kSpake2ConfirmBytes, "key confirmation");
  } else if (std::holds_alternative<Accepted>(m)) {
    type = kAccepted;
  } else {
    const auto& r = std::get<Refusal>(m);
    type = kRefusal;
    put_u32(body, r.version);
    const std::string reason = r.reason.substr(0, kMaxRefusalBytes);
    body.insert(body.end(), reason.begin(), reason.end());
  }
  Bytes out = {kMagic0, kMagic1, type, static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size())};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

size_t handshake_body_length(std::span<const uint8_t> header) {
  if (header.size() != kHandshakeHeaderBytes) throw HandshakeError("handshake header cut short");
  if (header[0] != kMagic0 || header[1] != kMagic1) {
    if (looks_like_capnp(header)) {
      throw HandshakeError(
          "the peer speaks Cap'n Proto without baton's handshake: it runs an older baton (protocol version 1); "
          "run the same baton version on every device");
    }
    throw HandshakeError("the peer does not speak baton's handshake (not a baton process?)");
  }
  if (header[2] < kClientHello || header[2] > kRefusal) {
    throw HandshakeError(fmt::format("unknown handshake message type {}", header[2]));
  }
  const size_t length = (size_t{header[3]} << 8) | header[4];
  if (length > kMaxHandshakeBody) {
    throw HandshakeError(fmt::format("handshake message of {} bytes (at most {})", length, kMaxHandshakeBody));
  }
  return length;
}

HandshakeMessage decode_handshake(std::span<const uint8_t> header, std::span<const uint8_t> body) {
  const size_t length = handshake_body_length(header);
  if (body.size() != length) {
    throw HandshakeError(fmt::format("handshake body of {} bytes, header says {}", body.size(), length));
  }
  Cursor in(body);
  switch (header[2]) {
    case kClientHello: {
      ClientHello h;
      h.version = in.u32("version");
      h.role = printable(in.short_string(kMaxRoleBytes, "role"));
      h.share = in.fixed(kSpake2ShareBytes, "key share");
      in.done("client hello");
      return h;
    }
    case kServerHello: {
      ServerHello s;
      s.version = in.u32("version");
      s.role = printable(in.short_string(kMaxRoleBytes, "role"));
      s.share = in.fixed(kSpake2ShareBytes, "key share");
      s.confirmation = in.fixed(kSpake2ConfirmBytes, "key confirmation");
      in.done("server hello");
      return s;
    }
    case kClientConfirm: {
      ClientConfirm c;
      c.confirmation = in.fixed(kSpake2ConfirmBytes, "key confirmation");
      in.done("key confirmation");
      return c;
    }
    case kAccepted:
      in.done("acceptance");
      return Accepted{};
    default: {
      Refusal r;
      r.version = in.u32("version");
      r.reason = printable(in.rest().substr(0, kMaxRefusalBytes));
      return r;
    }
  }
}

}  // namespace baton
