// The handshake and the encrypted stream, both ends in this process over socket pairs.
#include <gtest/gtest.h>

#include <kj/async-io.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "transport/handshake_messages.h"
#include "transport/secure_channel.h"

namespace baton {
namespace {

class SecureChannelTest : public ::testing::Test {
 protected:
  std::string error_of(kj::Promise<void> p) {
    try {
      p.wait(io_.waitScope);
    } catch (const kj::Exception& e) {
      return e.getDescription().cStr();
    }
    return "";
  }
  static kj::Promise<void> write_bytes(kj::AsyncIoStream& s, const Bytes& b) {
    auto copy = kj::heapArray<kj::byte>(b.size());
    std::memcpy(copy.begin(), b.data(), b.size());
    auto p = s.write(copy.begin(), copy.size());
    return p.attach(kj::mv(copy));
  }
  static kj::Promise<HandshakeMessage> read_message(kj::AsyncIoStream& s) {
    auto header = kj::heapArray<kj::byte>(kHandshakeHeaderBytes);
    auto* h = header.begin();
    return s.read(h, kHandshakeHeaderBytes).then([&s, header = kj::mv(header)]() mutable {
      const size_t n = handshake_body_length(std::span<const uint8_t>(header.begin(), header.size()));
      auto body = kj::heapArray<kj::byte>(n);
      auto* b = body.begin();
      return s.read(b, n).then([header = kj::mv(header), body = kj::mv(body)]() {
        return decode_handshake(std::span<const uint8_t>(header.begin(), header.size()),
                                std::span<const uint8_t>(body.begin(), body.size()));
      });
    });
  }

  std::unique_ptr<kj::AsyncIoContext> io_holder_ = std::make_unique<kj::AsyncIoContext>(kj::setupAsyncIo());
  kj::AsyncIoContext& io_ = *io_holder_;
};

TEST_F(SecureChannelTest, SameSecretConnectsAndCarriesDataBothWays) {
  {
    // The handshake's cost, both ends on this thread (reported, not asserted).
    const auto t0 = std::chrono::steady_clock::now();
    const int runs = 20;
    for (int i = 0; i < runs; ++i) {
      auto p = io_.provider->newTwoWayPipe();
      auto d = handshake_as_dialler(kj::mv(p.ends[0]), "same-secret", "coordinator", "x").eagerlyEvaluate(nullptr);
      auto l = handshake_as_listener(kj::mv(p.ends[1]), "same-secret", "node").eagerlyEvaluate(nullptr);
      ASSERT_EQ(l.wait(io_.waitScope).error, "");
      d.wait(io_.waitScope);
    }
    std::printf("handshake, both sides' CPU: %.2f ms\n",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / runs);
  }
  auto pipe = io_.provider->newTwoWayPipe();
  auto dialled = handshake_as_dialler(kj::mv(pipe.ends[0]), "same-secret", "coordinator", "test-node").eagerlyEvaluate(nullptr);
  auto listened = handshake_as_listener(kj::mv(pipe.ends[1]), "same-secret", "node").eagerlyEvaluate(nullptr);
  auto outcome = listened.wait(io_.waitScope);
  ASSERT_EQ(outcome.error, "");
  ASSERT_EQ(outcome.spent_a_guess, false);
  SecureChannel* accepted = nullptr;
  KJ_IF_MAYBE(c, outcome.channel) { accepted = c; }
  ASSERT_NE(accepted, nullptr);
  SecureChannel server = kj::mv(*accepted);
  SecureChannel client = dialled.wait(io_.waitScope);
  EXPECT_EQ(server.peer_role, "coordinator");
  EXPECT_EQ(client.peer_role, "node");

  // 1 MiB + 3 bytes in three pieces: crosses record boundaries both in writing and reading.
  Bytes big((1u << 20) + 3);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 131 + 7);
  kj::ArrayPtr<const kj::byte> pieces[3] = {kj::arrayPtr(big.data(), 10), kj::arrayPtr(big.data() + 10, 70000),
                                            kj::arrayPtr(big.data() + 70010, big.size() - 70010)};
  auto sent = client.stream->write(kj::arrayPtr(pieces, 3)).eagerlyEvaluate(nullptr);
  Bytes got(big.size());
  size_t have = 0;
  while (have < got.size()) {
    have += server.stream->tryRead(got.data() + have, 1, std::min<size_t>(got.size() - have, 5000)).wait(io_.waitScope);
  }
  sent.wait(io_.waitScope);
  EXPECT_EQ(got, big);

  const Bytes reply = {'o', 'k'};
  write_bytes(*server.stream, reply).wait(io_.waitScope);
  Bytes r(2);
  client.stream->read(r.data(), 2).wait(io_.waitScope);
  EXPECT_EQ(r, reply);
  // A clean shutdown is a clean end of stream.
  server.stream->shutdownWrite();
  EXPECT_EQ(client.stream->tryRead(r.data(), 1, 2).wait(io_.waitScope), 0u);
}

TEST_F(SecureChannelTest, WrongSecretFailsOnBothSidesWithReasons) {
  auto pipe = io_.provider->newTwoWayPipe();
  auto dialled = handshake_as_dialler(kj::mv(pipe.ends[0]), "one-secret", "coordinator", "10.0.0.7:7000").eagerlyEvaluate(nullptr);
  auto listened = handshake_as_listener(kj::mv(pipe.ends[1]), "another-secret", "node").eagerlyEvaluate(nullptr);
  const std::string err = error_of(dialled.ignoreResult());
  EXPECT_NE(err.find("10.0.0.7:7000: it could not prove it knows the cluster secret"), std::string::npos) << err;
  auto outcome = listened.wait(io_.waitScope);
  EXPECT_TRUE(outcome.channel == nullptr);
  EXPECT_TRUE(outcome.spent_a_guess) << "the dialler saw the listener's confirmation: one guess spent";
}

TEST_F(SecureChannelTest, AnImpostorDiallerWithAWrongProofIsRefused) {
  // A dialler that does not know the secret sends a share and then a made-up confirmation.
  auto pipe = io_.provider->newTwoWayPipe();
  auto listened = handshake_as_listener(kj::mv(pipe.ends[1]), "the-real-secret", "node").eagerlyEvaluate(nullptr);
  auto& impostor = *pipe.ends[0];
  Spake2 guess(Spake2::Side::A, "a-guessed-secret");
  write_bytes(impostor, encode_handshake(ClientHello{kChannelProtocolVersion, "coordinator", guess.share()}))
      .wait(io_.waitScope);
  auto hello = read_message(impostor).wait(io_.waitScope);
  ASSERT_TRUE(std::holds_alternative<ServerHello>(hello));
  write_bytes(impostor, encode_handshake(ClientConfirm{Bytes(kSpake2ConfirmBytes, 0x5a)})).wait(io_.waitScope);
  auto answer = read_message(impostor).wait(io_.waitScope);
  ASSERT_TRUE(std::holds_alternative<Refusal>(answer));
  EXPECT_EQ(std::get<Refusal>(answer).reason, "wrong cluster secret");
  auto outcome = listened.wait(io_.waitScope);
  EXPECT_TRUE(outcome.channel == nullptr);
  EXPECT_EQ(outcome.error, "wrong cluster secret");
  EXPECT_TRUE(outcome.spent_a_guess);
}

TEST_F(SecureChannelTest, OlderVersionsAreRefusedClearly) {
  {
    auto pipe = io_.provider->newTwoWayPipe();
    auto listened = handshake_as_listener(kj::mv(pipe.ends[1]), "the-real-secret", "node").eagerlyEvaluate(nullptr);
    Spake2 a(Spake2::Side::A, "the-real-secret");
    write_bytes(*pipe.ends[0], encode_handshake(ClientHello{1, "coordinator", a.share()})).wait(io_.waitScope);
    auto answer = read_message(*pipe.ends[0]).wait(io_.waitScope);
    ASSERT_TRUE(std::holds_alternative<Refusal>(answer));
    EXPECT_NE(std::get<Refusal>(answer).reason.find("protocol version 1 (this node speaks 2)"), std::string::npos)
        << std::get<Refusal>(answer).reason;
    EXPECT_FALSE(listened.wait(io_.waitScope).spent_a_guess);
  }
  {
    // A protocol-1 peer opens with a Cap'n Proto message.
    auto pipe = io_.provider->newTwoWayPipe();
    auto listened = handshake_as_listener(kj::mv(pipe.ends[1]), "the-real-secret", "node").eagerlyEvaluate(nullptr);
    write_bytes(*pipe.ends[0], Bytes{0, 0, 0, 0, 6, 0, 0, 0, 1, 2, 3}).wait(io_.waitScope);
    auto outcome = listened.wait(io_.waitScope);
    EXPECT_NE(outcome.error.find("older baton (protocol version 1)"), std::string::npos) << outcome.error;
  }
}

TEST_F(SecureChannelTest, TamperedReplayedOrInjectedRecordsBreakTheConnection) {
  const Bytes k1(kAeadKeyBytes, 1), k2(kAeadKeyBytes, 2);
  auto make_pair = [&](kj::TwoWayPipe& in, kj::TwoWayPipe& out) {
    // writer -> in.ends[1] (the test reads raw records) ... test writes -> out.ends[0] -> reader
    auto writer = kj::heap<SecureStream>(kj::mv(in.ends[0]), k1, k2);
    auto reader = kj::heap<SecureStream>(kj::mv(out.ends[1]), k2, k1);
    return std::make_pair(kj::mv(writer), kj::mv(reader));
  };
  auto record_of = [&](kj::AsyncIoStream& raw, size_t plain) {
    Bytes rec(4 + plain + kAeadTagBytes);
    raw.read(rec.data(), rec.size()).wait(io_.waitScope);
    return rec;
  };
  const Bytes msg = {'h', 'e', 'l', 'l', 'o'};
  {  // one flipped bit
    auto in = io_.provider->newTwoWayPipe(), out = io_.provider->newTwoWayPipe();
    auto [writer, reader] = make_pair(in, out);
    write_bytes(*writer, msg).wait(io_.waitScope);
    Bytes rec = record_of(*in.ends[1], msg.size());
    rec[6] ^= 0x01;
    write_bytes(*out.ends[0], rec).wait(io_.waitScope);
    Bytes got(5);
    EXPECT_NE(error_of(reader->read(got.data(), 5)).find("failed authentication"), std::string::npos);
  }
  {  // a genuine record replayed
    auto in = io_.provider->newTwoWayPipe(), out = io_.provider->newTwoWayPipe();
    auto [writer, reader] = make_pair(in, out);
    write_bytes(*writer, msg).wait(io_.waitScope);
    Bytes rec = record_of(*in.ends[1], msg.size());
    write_bytes(*out.ends[0], rec).wait(io_.waitScope);
    write_bytes(*out.ends[0], rec).wait(io_.waitScope);
    Bytes got(5);
    reader->read(got.data(), 5).wait(io_.waitScope);
    EXPECT_EQ(got, msg);
    EXPECT_NE(error_of(reader->read(got.data(), 5)).find("failed authentication"), std::string::npos);
  }
  {  // plaintext injected by someone without the keys (e.g. a Cap'n Proto message)
    auto in = io_.provider->newTwoWayPipe(), out = io_.provider->newTwoWayPipe();
    auto [writer, reader] = make_pair(in, out);
    write_bytes(*out.ends[0], Bytes{0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}).wait(io_.waitScope);
    Bytes got(5);
    EXPECT_NE(error_of(reader->read(got.data(), 5)).find("does not hold this connection's keys"), std::string::npos);
  }
  {  // a record claiming more than the record limit is refused from its header
    auto in = io_.provider->newTwoWayPipe(), out = io_.provider->newTwoWayPipe();
    auto [writer, reader] = make_pair(in, out);
    write_bytes(*out.ends[0], Bytes{0x04, 0, 0, 0}).wait(io_.waitScope);  // 64 MiB
    Bytes got(5);
    EXPECT_NE(error_of(reader->read(got.data(), 5)).find("encrypted record of 67108864 bytes"), std::string::npos);
  }
}

}  // namespace
}  // namespace baton
