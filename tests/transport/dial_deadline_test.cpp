// The dialling side of the handshake is bounded too: a peer that accepts the connection
// and then says nothing (not a baton process, or a frozen one) fails the dial after the
// deadline with a message naming the address, instead of holding the caller forever.
#include <gtest/gtest.h>
#include <kj/async-io.h>

#include <string>

#include "transport/rpc_peer.h"
#include "transport/user_errors.h"

namespace baton {
namespace {

TEST(DialDeadline, APeerThatNeverAnswersFailsTheDialAfterTheDeadline) {
  auto io = kj::setupAsyncIo();
  // A listener that accepts and keeps the connection open without a word.
  auto listener = io.provider->getNetwork().parseAddress("127.0.0.1", 0).wait(io.waitScope)->listen();
  const std::string address = "127.0.0.1:" + std::to_string(listener->getPort());
  kj::Own<kj::AsyncIoStream> accepted;
  auto accepting = listener->accept().then([&](kj::Own<kj::AsyncIoStream> s) { accepted = kj::mv(s); }).eagerlyEvaluate(nullptr);

  auto dial = dial_and_join(*io.provider, address, "some-cluster-secret", "coordinator", 300 * kj::MILLISECONDS);
  try {
    dial.wait(io.waitScope);
    FAIL() << "a silent peer cannot complete a join";
  } catch (const kj::Exception& e) {
    EXPECT_EQ(e.getType(), kj::Exception::Type::OVERLOADED);
    const std::string message = plain_message(e);
    EXPECT_NE(message.find(address), std::string::npos) << message;
    EXPECT_NE(message.find("did not complete the handshake within"), std::string::npos) << message;
  }
  EXPECT_TRUE(accepted.get() != nullptr) << "the connection itself was made: the deadline covers the silence after it";
}

}  // namespace
}  // namespace baton
