#include "transport/secure_channel.h"

#include <capnp/message.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize.h>
#include <fmt/format.h>

#include <cstring>

#include "transport/handshake_messages.h"

namespace baton {

namespace {

[[noreturn]] void fail(const std::string& message) {
  kj::throwFatalException(kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__, kj::str(message.c_str())));
}

std::string describe(const kj::Exception& e) { return e.getDescription().cStr(); }

// Per-direction traffic keys: the dialler sends under one, the listener under the other.
struct TrafficKeys {
  Bytes dialler_to_listener, listener_to_dialler;
};
TrafficKeys traffic_keys(const Spake2Result& r) {
  return {hkdf_sha256(r.session_key, r.transcript_hash, "baton/2 traffic dialler->listener", kAeadKeyBytes),
          hkdf_sha256(r.session_key, r.transcript_hash, "baton/2 traffic listener->dialler", kAeadKeyBytes)};
}

// A handshake header (5 bytes), or fewer if the peer closed.
kj::Promise<kj::Array<kj::byte>> read_header(kj::AsyncIoStream& stream) {
  auto header = kj::heapArray<kj::byte>(kHandshakeHeaderBytes);
  kj::byte* h = header.begin();
  return stream.tryRead(h, kHandshakeHeaderBytes, kHandshakeHeaderBytes)
      .then([header = kj::mv(header)](size_t n) mutable { return kj::heapArray<kj::byte>(header.slice(0, n)); });
}

// The body the header announces, bounded by kMaxHandshakeBody before anything is
// allocated, and the decoded message.
kj::Promise<HandshakeMessage> read_body(kj::AsyncIoStream& stream, kj::Array<kj::byte> header) {
  if (header.size() < kHandshakeHeaderBytes) {
    if (looks_like_capnp(std::span<const uint8_t>(header.begin(), header.size()))) {
      fail("the peer speaks Cap'n Proto without baton's handshake: it runs an older baton (protocol version 1)");
    }
    fail("the connection closed during the handshake");
  }
  size_t length = 0;
  try {
    length = handshake_body_length(std::span<const uint8_t>(header.begin(), header.size()));
  } catch (const HandshakeError& e) {
    fail(e.what());
  }
  auto body = kj::heapArray<kj::byte>(length);
  kj::byte* b = body.begin();
  return stream.tryRead(b, length, length)
      .then([header = kj::mv(header), body = kj::mv(body), length](size_t got) -> HandshakeMessage {
        if (got < length) fail("the connection closed during the handshake");
        try {
          return decode_handshake(std::span<const uint8_t>(header.begin(), header.size()),
                                  std::span<const uint8_t>(body.begin(), body.size()));
        } catch (const HandshakeError& e) {
          fail(e.what());
        }
      });
}

kj::Promise<HandshakeMessage> read_handshake(kj::AsyncIoStream& stream) {
  return read_header(stream).then(
      [&stream](kj::Array<kj::byte> header) { return read_body(stream, kj::mv(header)); });
}

// A peer of protocol version 1 opens with Cap'n Proto and understands only that: answer
// with an RPC Abort it will show its user, then hang up.
kj::Promise<void> abort_old_peer(kj::AsyncIoStream& stream) {
  capnp::MallocMessageBuilder message;
  auto abort = message.initRoot<capnp::rpc::Message>().initAbort();
  abort.setType(capnp::rpc::Exception::Type::FAILED);
  abort.setReason(fmt::format("this baton speaks protocol version {} (an encrypted, password-authenticated channel); "
                              "upgrade baton on this device to the same version",
                              kChannelProtocolVersion));
  auto words = capnp::messageToFlatArray(message);
  auto bytes = kj::heapArray<kj::byte>(words.asBytes());
  auto p = stream.write(bytes.begin(), bytes.size());
  return p.attach(kj::mv(bytes));
}

kj::Promise<void> write_handshake(kj::AsyncIoStream& stream, const HandshakeMessage& m) {
  auto bytes = kj::heapArray<kj::byte>(0);
  Bytes encoded = encode_handshake(m);
  bytes = kj::heapArray<kj::byte>(encoded.size());
  std::memcpy(bytes.begin(), encoded.data(), encoded.size());
  auto p = stream.write(bytes.begin(), bytes.size());
  return p.attach(kj::mv(bytes));
}

std::string refusal_text(const Refusal& r) {
  if (r.version != kChannelProtocolVersion) {
    return fmt::format("{} (it speaks protocol version {}, this build {})", r.reason, r.version,
                       kChannelProtocolVersion);
  }
  return r.reason;
}

struct DiallerState {
  kj::Own<kj::AsyncIoStream> raw;
  std::unique_ptr<Spake2> spake;
  std::string address;
  std::string peer_role;
  TrafficKeys keys;
};

struct ListenerState {
  kj::Own<kj::AsyncIoStream> raw;
  std::string secret, role;
  std::unique_ptr<Spake2> spake;
  std::string peer_role;
  Bytes expected_confirmation;
  TrafficKeys keys;
  std::shared_ptr<HandshakeProgress> progress;
};

}  // namespace

std::string channel_identity(const std::string& role) { return fmt::format("baton/{} {}", kChannelProtocolVersion, role); }

// ---------------------------------------------------------------- SecureStream

SecureStream::SecureStream(kj::Own<kj::AsyncIoStream> inner, const Bytes& send_key, const Bytes& receive_key)
    : inner_(kj::mv(inner)), sender_(send_key), receiver_(receive_key) {}

Bytes SecureStream::nonce_for(uint64_t counter) const {
  Bytes nonce(kAeadNonceBytes, 0);
  for (int i = 0; i < 8; ++i) nonce[4 + static_cast<size_t>(i)] = static_cast<uint8_t>(counter >> (56 - 8 * i));
  return nonce;
}

kj::Promise<size_t> SecureStream::tryRead(void* buffer, size_t minBytes, size_t maxBytes) {
  return read_more(static_cast<kj::byte*>(buffer), minBytes, maxBytes, 0);
}

kj::Promise<size_t> SecureStream::read_more(kj::byte* out, size_t min, size_t max, size_t done) {
  const size_t available = plain_.size() - plain_pos_;
  const size_t take = std::min(available, max - done);
  // Before the first record plain_ holds nothing and its data() may be null, which
  // memcpy must not be given even for zero bytes (UBSan reports it).
  if (take > 0) std::memcpy(out + done, plain_.data() + plain_pos_, take);
  plain_pos_ += take;
  done += take;
  if (done >= min || done == max || eof_) return done;
  return next_record().then([this, out, min, max, done](bool more) -> kj::Promise<size_t> {
    if (!more) {
      eof_ = true;
      return done;
    }
    return read_more(out, min, max, done);
  });
}

kj::Promise<bool> SecureStream::next_record() {
  return inner_->tryRead(header_, 4, 4).then([this](size_t n) -> kj::Promise<bool> {
    if (n == 0) return false;  // the peer closed between records
    if (n < 4) fail("the encrypted connection was cut inside a record");
    const size_t length = (size_t{header_[0]} << 24) | (size_t{header_[1]} << 16) | (size_t{header_[2]} << 8) | header_[3];
    if (length == 0 || length > kMaxRecordBytes) {
      fail(fmt::format("an encrypted record of {} bytes (1..{} allowed): the peer does not hold this connection's keys",
                       length, kMaxRecordBytes));
    }
    if (cipher_.size() < length + kAeadTagBytes) cipher_ = kj::heapArray<kj::byte>(kMaxRecordBytes + kAeadTagBytes);
    return inner_->tryRead(cipher_.begin(), length + kAeadTagBytes, length + kAeadTagBytes)
        .then([this, length](size_t got) -> bool {
          if (got < length + kAeadTagBytes) fail("the encrypted connection was cut inside a record");
          plain_.resize(length);
          plain_pos_ = 0;
          const Bytes nonce = nonce_for(receive_counter_);
          if (!receiver_.open(nonce, std::span<const uint8_t>(header_, 4),
                              std::span<const uint8_t>(cipher_.begin(), length + kAeadTagBytes), plain_.data())) {
            plain_.clear();
            fail("an encrypted record failed authentication (forged, replayed or corrupted): connection dropped");
          }
          ++receive_counter_;
          return true;
        });
  });
}

kj::Promise<void> SecureStream::write(const void* buffer, size_t size) {
  kj::ArrayPtr<const kj::byte> piece(static_cast<const kj::byte*>(buffer), size);
  return write(kj::arrayPtr(&piece, 1));
}

kj::Promise<void> SecureStream::write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  size_t total = 0;
  for (auto& p : pieces) total += p.size();
  if (total == 0) return kj::READY_NOW;
  const size_t records = (total + kMaxRecordBytes - 1) / kMaxRecordBytes;
  auto wire = kj::heapArray<kj::byte>(total + records * (4 + kAeadTagBytes));
  // Gather the pieces record by record into one plaintext staging buffer per record.
  Bytes staging(std::min(total, kMaxRecordBytes));
  size_t piece = 0, piece_pos = 0, out = 0, left = total;
  while (left > 0) {
    const size_t length = std::min(left, kMaxRecordBytes);
    size_t filled = 0;
    while (filled < length) {
      const size_t n = std::min(length - filled, pieces[piece].size() - piece_pos);
      std::memcpy(staging.data() + filled, pieces[piece].begin() + piece_pos, n);
      filled += n;
      piece_pos += n;
      if (piece_pos == pieces[piece].size()) {
        ++piece;
        piece_pos = 0;
      }
    }
    kj::byte* rec = wire.begin() + out;
    rec[0] = static_cast<kj::byte>(length >> 24);
    rec[1] = static_cast<kj::byte>(length >> 16);
    rec[2] = static_cast<kj::byte>(length >> 8);
    rec[3] = static_cast<kj::byte>(length);
    if (send_counter_ == UINT64_MAX) fail("encrypted connection used up its nonces; reconnect");
    sender_.seal(nonce_for(send_counter_++), std::span<const uint8_t>(rec, 4),
                 std::span<const uint8_t>(staging.data(), length), rec + 4);
    out += 4 + length + kAeadTagBytes;
    left -= length;
  }
  wire_bytes_sent_ += wire.size();
  auto p = inner_->write(wire.begin(), wire.size());
  return p.attach(kj::mv(wire));
}

// ---------------------------------------------------------------- handshakes

kj::Promise<SecureChannel> handshake_as_dialler(kj::Own<kj::AsyncIoStream> raw, std::string secret, std::string role,
                                                std::string address) {
  auto state = kj::heap<DiallerState>();
  DiallerState& s = *state;
  s.raw = kj::mv(raw);
  s.address = address;
  ClientHello hello;
  hello.version = kChannelProtocolVersion;
  hello.role = role;
  s.spake = std::make_unique<Spake2>(Spake2::Side::A, secret);
  hello.share = s.spake->share();
  auto run =
      write_handshake(*s.raw, hello)
          .then([&s] { return read_handshake(*s.raw); })
          .then([&s, role](HandshakeMessage m) {
            if (auto* r = std::get_if<Refusal>(&m)) fail(fmt::format("refused: {}", refusal_text(*r)));
            auto* sh = std::get_if<ServerHello>(&m);
            if (!sh) fail("the listener broke the handshake order");
            if (sh->version != kChannelProtocolVersion) {
              fail(fmt::format("it speaks protocol version {}, this build speaks {}; run the same baton version everywhere",
                               sh->version, kChannelProtocolVersion));
            }
            s.peer_role = sh->role;
            Spake2Result result;
            try {
              // The listener's announced role is bound into the transcript: a changed
              // role fails the confirmation.
              result = s.spake->finish(sh->share, channel_identity(role), channel_identity(sh->role), kChannelAad);
            } catch (const Spake2Error& e) {
              fail(e.what());
            }
            if (!bytes_equal(result.peer_confirmation, sh->confirmation)) {
              fail("it could not prove it knows the cluster secret (the secrets differ, or it is not a baton node of "
                   "this cluster)");
            }
            s.keys = traffic_keys(result);
            return write_handshake(*s.raw, ClientConfirm{result.my_confirmation});
          })
          .then([&s] { return read_handshake(*s.raw); })
          .then([&s](HandshakeMessage m) {
            if (auto* r = std::get_if<Refusal>(&m)) fail(fmt::format("refused: {}", refusal_text(*r)));
            if (!std::holds_alternative<Accepted>(m)) fail("the listener broke the handshake order");
            SecureChannel channel;
            channel.stream = kj::heap<SecureStream>(kj::mv(s.raw), s.keys.dialler_to_listener, s.keys.listener_to_dialler);
            channel.peer_role = s.peer_role;
            return channel;
          });
  return run.attach(kj::mv(state))
      .catch_([address](kj::Exception&& e) -> SecureChannel {
        fail(fmt::format("{}: {}", address, describe(e)));
      });
}

kj::Promise<ListenerOutcome> handshake_as_listener(kj::Own<kj::AsyncIoStream> raw, std::string secret,
                                                   std::string role, std::shared_ptr<HandshakeProgress> progress) {
  auto state = kj::heap<ListenerState>();
  ListenerState& s = *state;
  s.progress = progress ? std::move(progress) : std::make_shared<HandshakeProgress>();
  *s.progress = HandshakeProgress{};
  s.raw = kj::mv(raw);
  s.secret = kj::mv(secret);
  s.role = kj::mv(role);
  auto refuse_and_fail = [&s](const std::string& why) -> kj::Promise<SecureChannel> {
    return write_handshake(*s.raw, Refusal{kChannelProtocolVersion, why})
        .then([why]() -> SecureChannel { fail(why); }, [why](kj::Exception&&) -> SecureChannel { fail(why); });
  };
  auto run =
      read_header(*s.raw)
          .then([&s](kj::Array<kj::byte> header) -> kj::Promise<HandshakeMessage> {
            if (header.size() >= 4 && looks_like_capnp(std::span<const uint8_t>(header.begin(), header.size()))) {
              return abort_old_peer(*s.raw).then(
                  []() -> HandshakeMessage {
                    fail("the peer speaks Cap'n Proto without baton's handshake: it runs an older baton (protocol "
                         "version 1); told it to upgrade");
                  },
                  [](kj::Exception&&) -> HandshakeMessage {
                    fail("the peer speaks Cap'n Proto without baton's handshake: it runs an older baton (protocol "
                         "version 1)");
                  });
            }
            return read_body(*s.raw, kj::mv(header));
          })
          .then([&s, refuse_and_fail](HandshakeMessage m) -> kj::Promise<void> {
            auto* hello = std::get_if<ClientHello>(&m);
            if (!hello) return refuse_and_fail("the handshake must start with a hello").ignoreResult();
            if (hello->version != kChannelProtocolVersion) {
              return refuse_and_fail(fmt::format("protocol version {} (this {} speaks {}); run the same baton version "
                                                 "everywhere",
                                                 hello->version, s.role, kChannelProtocolVersion))
                  .ignoreResult();
            }
            s.peer_role = hello->role;
            s.progress->heard_hello = true;
            Spake2Result result;
            try {
              s.spake = std::make_unique<Spake2>(Spake2::Side::B, s.secret);
              result = s.spake->finish(hello->share, channel_identity(hello->role), channel_identity(s.role),
                                       kChannelAad);
            } catch (const Spake2Error& e) {
              return refuse_and_fail(e.what()).ignoreResult();
            }
            s.keys = traffic_keys(result);
            s.expected_confirmation = result.peer_confirmation;
            // From here the peer holds our confirmation: it can test one guess with it.
            s.progress->spent_a_guess = true;
            ServerHello reply{kChannelProtocolVersion, s.role, s.spake->share(), result.my_confirmation};
            return write_handshake(*s.raw, reply);
          })
          .then([&s] { return read_handshake(*s.raw); })
          .then([&s, refuse_and_fail](HandshakeMessage m) -> kj::Promise<SecureChannel> {
            auto* confirm = std::get_if<ClientConfirm>(&m);
            if (!confirm) return refuse_and_fail("the handshake expected a key confirmation");
            if (!bytes_equal(confirm->confirmation, s.expected_confirmation)) {
              return refuse_and_fail("wrong cluster secret");
            }
            s.progress->spent_a_guess = false;
            return write_handshake(*s.raw, Accepted{}).then([&s] {
              SecureChannel channel;
              channel.stream =
                  kj::heap<SecureStream>(kj::mv(s.raw), s.keys.listener_to_dialler, s.keys.dialler_to_listener);
              channel.peer_role = s.peer_role;
              return channel;
            });
          });
  ListenerState* sp = state.get();
  return run
      .then(
          [](SecureChannel c) {
            ListenerOutcome out;
            out.channel = kj::mv(c);
            return out;
          },
          [sp](kj::Exception&& e) {
            ListenerOutcome out;
            out.error = describe(e);
            out.spent_a_guess = sp->progress->spent_a_guess;
            return out;
          })
      .attach(kj::mv(state));
}

kj::Promise<void> refuse_connection(kj::Own<kj::AsyncIoStream> raw, std::string reason) {
  auto& stream = *raw;
  return write_handshake(stream, Refusal{kChannelProtocolVersion, reason})
      .then([&stream] { stream.shutdownWrite(); }, [](kj::Exception&&) {})
      .attach(kj::mv(raw));
}

}  // namespace baton
