#include <gtest/gtest.h>

#include "transport/handshake_messages.h"

namespace baton {
namespace {

HandshakeMessage roundtrip(const HandshakeMessage& m) {
  const Bytes b = encode_handshake(m);
  EXPECT_GE(b.size(), kHandshakeHeaderBytes);
  return decode_handshake(std::span(b.data(), kHandshakeHeaderBytes),
                          std::span(b.data() + kHandshakeHeaderBytes, b.size() - kHandshakeHeaderBytes));
}

std::string error_of(const Bytes& b) {
  try {
    decode_handshake(std::span(b.data(), std::min(b.size(), kHandshakeHeaderBytes)),
                     std::span(b.data() + std::min(b.size(), kHandshakeHeaderBytes),
                               b.size() - std::min(b.size(), kHandshakeHeaderBytes)));
  } catch (const HandshakeError& e) {
    return e.what();
  }
  return "";
}

TEST(HandshakeMessages, EveryMessageRoundTrips) {
  const Bytes share(kSpake2ShareBytes, 0x42), confirm(kSpake2ConfirmBytes, 0x17);
  auto h = std::get<ClientHello>(roundtrip(ClientHello{2, "coordinator", share}));
  EXPECT_EQ(h.version, 2u);
  EXPECT_EQ(h.role, "coordinator");
  EXPECT_EQ(h.share, share);
  auto s = std::get<ServerHello>(roundtrip(ServerHello{2, "node", share, confirm}));
  EXPECT_EQ(s.role, "node");
  EXPECT_EQ(s.confirmation, confirm);
  EXPECT_EQ(std::get<ClientConfirm>(roundtrip(ClientConfirm{confirm})).confirmation, confirm);
  EXPECT_TRUE(std::holds_alternative<Accepted>(roundtrip(Accepted{})));
  auto r = std::get<Refusal>(roundtrip(Refusal{2, "wrong cluster secret"}));
  EXPECT_EQ(r.reason, "wrong cluster secret");
  EXPECT_EQ(r.version, 2u);
}

TEST(HandshakeMessages, BoundsAreCheckedBeforeAnythingIsAllocated) {
  // A header announcing 64 KiB - 1 of body is refused from its 5 bytes alone.
  const Bytes huge = {'b', 'P', 1, 0xff, 0xff};
  EXPECT_NE(error_of(huge).find("handshake message of 65535 bytes (at most 512)"), std::string::npos)
      << error_of(huge);
  EXPECT_NE(error_of({'x', 'y', 1, 0, 0}).find("does not speak baton's handshake"), std::string::npos);
  EXPECT_NE(error_of({'b', 'P', 9, 0, 0}).find("unknown handshake message type 9"), std::string::npos);
  // An older baton's first Cap'n Proto message (segment count 0, first segment 2 words).
  const Bytes capnp = {0, 0, 0, 0, 2, 0, 0, 0};
  EXPECT_TRUE(looks_like_capnp(capnp));
  EXPECT_NE(error_of(capnp).find("older baton (protocol version 1)"), std::string::npos) << error_of(capnp);
}

TEST(HandshakeMessages, MalformedBodiesNameTheField) {
  Bytes b = encode_handshake(ClientHello{2, "stage", Bytes(kSpake2ShareBytes, 1)});
  Bytes cut = b;
  cut.resize(cut.size() - 10);
  cut[4] = static_cast<uint8_t>(cut.size() - kHandshakeHeaderBytes);
  EXPECT_NE(error_of(cut).find("cut short in its key share"), std::string::npos) << error_of(cut);
  Bytes trailing = b;
  trailing.push_back(0);
  trailing[4] = static_cast<uint8_t>(trailing.size() - kHandshakeHeaderBytes);
  EXPECT_NE(error_of(trailing).find("unexpected trailing bytes"), std::string::npos);
  Bytes long_role = b;
  long_role[kHandshakeHeaderBytes + 4] = 200;  // role length beyond kMaxRoleBytes
  EXPECT_NE(error_of(long_role).find("role of 200 bytes"), std::string::npos) << error_of(long_role);
  EXPECT_THROW(encode_handshake(ClientHello{2, std::string(40, 'r'), Bytes(kSpake2ShareBytes, 1)}), HandshakeError);
  // A refusal's text is shown to a person: control characters are neutralised.
  auto r = std::get<Refusal>(roundtrip(Refusal{2, "line\nbreak\x1b[31m"}));
  EXPECT_EQ(r.reason.find('\n'), std::string::npos);
  EXPECT_EQ(r.reason.find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace baton
