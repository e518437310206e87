// Cap'n Proto connections between baton processes: the listening side (one Gate per
// accepted connection) and the dialling side (connect, then authenticate with the
// cluster secret). Everything here runs on one kj event loop thread.
#pragma once

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <functional>
#include <string>

#include "transport/baton.capnp.h"

namespace baton {

// Explicit bounds for every message we read: the largest legitimate message is a
// prefill frame (max rows x dim x 4 bytes) or a 4 MiB shard chunk.
capnp::ReaderOptions rpc_reader_options();

// A dialled connection and its RPC system; keep it alive as long as its capabilities.
struct RpcPeer {
  std::string address;
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
  rpc::Gate::Client gate = nullptr;
};

kj::Promise<kj::Own<RpcPeer>> dial(kj::Network& network, const std::string& address);

struct Joined {
  kj::Own<RpcPeer> peer;
  rpc::Node::Client node = nullptr;
  rpc::Coordinator::Client coordinator = nullptr;
  std::string name;  // the remote's name from hello
};

// hello + join with HMAC proof; checks the protocol version and the remote's proof of
// the secret. Rejects with a message naming the address and the reason.
kj::Promise<Joined> dial_and_join(kj::Network& network, const std::string& address, const std::string& secret,
                                  const std::string& role);

// Accepts connections on `address` ("host:port"; port 0 picks one) and serves a fresh
// bootstrap capability per connection. The factory gets a close() callback that drops
// that connection (used to hang up on peers that fail authentication) and the peer's
// address for logs.
class RpcListener {
 public:
  using BootstrapFactory = std::function<capnp::Capability::Client(std::function<void()> close, std::string peer)>;
  RpcListener(kj::AsyncIoContext& io, const std::string& address, BootstrapFactory factory);
  uint port();
  kj::Promise<void> run();  // accept loop; never resolves unless accept fails

 private:
  struct Connection;
  kj::Promise<void> accept_loop();

  kj::AsyncIoContext& io_;
  kj::Own<kj::ConnectionReceiver> receiver_;
  BootstrapFactory factory_;
  kj::TaskSet::ErrorHandler* error_handler_;
  kj::Own<kj::TaskSet::ErrorHandler> error_handler_owner_;
  kj::Own<kj::TaskSet> tasks_;
};

// Server side of the handshake: one per connection.
class GateServer final : public rpc::Gate::Server {
 public:
  GateServer(std::string secret, std::string name, std::string peer, std::function<void()> close,
             rpc::Node::Client node, rpc::Coordinator::Client coordinator);

 protected:
  kj::Promise<void> hello(HelloContext context) override;
  kj::Promise<void> join(JoinContext context) override;

 private:
  [[noreturn]] void refuse(const std::string& why);

  std::string secret_, name_, peer_;
  std::function<void()> close_;
  rpc::Node::Client node_;
  rpc::Coordinator::Client coordinator_;
  std::vector<uint8_t> node_nonce_, client_nonce_;
  bool joined_ = false;
};

// Converts a std::exception from our code into a kj exception the caller sees verbatim.
[[noreturn]] void throw_rpc_error(const std::string& message);

}  // namespace baton
