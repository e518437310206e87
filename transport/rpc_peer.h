// Cap'n Proto connections between baton processes: the listening side (one Gate per
// accepted connection) and the dialling side. Every connection starts with the SPAKE2
// handshake on the cluster secret and then carries Cap'n Proto inside AES-256-GCM
// records (transport/secure_channel.h); nothing is parsed as Cap'n Proto before the
// peer has proved the secret. Everything here runs on one kj event loop thread.
#pragma once

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <chrono>
#include <functional>
#include <list>
#include <string>

#include "transport/baton.capnp.h"
#include "transport/handshake_guard.h"

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

// Connects and runs the handshake as `role`; rejects naming the address and the reason.
kj::Promise<kj::Own<RpcPeer>> dial(kj::Network& network, const std::string& address, const std::string& secret,
                                   const std::string& role);

struct Joined {
  kj::Own<RpcPeer> peer;
  rpc::Node::Client node = nullptr;
  rpc::Coordinator::Client coordinator = nullptr;
  std::string name;  // the remote's name from hello
};

// dial, then hello + join over the encrypted channel, all within `deadline` (a peer that
// accepts the connection and then says nothing, a frozen node, does not hold the caller
// forever). Rejects with a message naming the address and the reason; a missed deadline
// is OVERLOADED, as kj's own timeouts are.
inline constexpr kj::Duration kJoinDeadline = 10 * kj::SECONDS;
kj::Promise<Joined> dial_and_join(kj::AsyncIoProvider& io, const std::string& address, const std::string& secret,
                                  const std::string& role, kj::Duration deadline = kJoinDeadline);

// What a listener asks of a connection before serving it.
struct ListenerSecurity {
  std::string secret;
  std::string role;  // what this process serves: "node" or "coordinator"
  HandshakeLimits limits;
  kj::Duration handshake_deadline = 5 * kj::SECONDS;
};

// Accepts connections on `address` ("host:port"; port 0 picks one), runs the handshake
// (bounded: deadline, pending caps, per-source attempt budget) and serves a fresh
// bootstrap capability per authenticated connection. The factory gets a close() callback
// that drops that connection and the peer's address for logs.
class RpcListener {
 public:
  using BootstrapFactory = std::function<capnp::Capability::Client(std::function<void()> close, std::string peer)>;
  RpcListener(kj::AsyncIoContext& io, const std::string& address, BootstrapFactory factory, ListenerSecurity security);
  ~RpcListener();
  uint port();
  kj::Promise<void> run();  // accept loop; never resolves (accept errors back off and retry)

 private:
  struct Connection;
  struct Pending;
  kj::Promise<void> accept_loop();
  void handle(kj::Own<kj::AsyncIoStream> stream);
  void serve(kj::Own<kj::AsyncIoStream> secure, const std::string& peer);
  // Drops one pending handshake to make room: a silent peer before one that has spoken.
  void evict_one_pending();

  kj::AsyncIoContext& io_;
  kj::Own<kj::ConnectionReceiver> receiver_;
  BootstrapFactory factory_;
  ListenerSecurity security_;
  HandshakeGuard guard_;
  std::list<Pending*> pending_;  // oldest first; entries owned by their handshake task
  kj::Duration accept_backoff_ = 0 * kj::MILLISECONDS;
  // A flood of bad connections must not flood the log (nor block on a full stderr): at
  // most a few handshake failures are logged per 10 s, the rest counted in the next line.
  bool may_log_failure();
  std::chrono::steady_clock::time_point log_window_{};
  int logged_in_window_ = 0;
  uint64_t unlogged_failures_ = 0;
  kj::TaskSet::ErrorHandler* error_handler_;
  kj::Own<kj::TaskSet::ErrorHandler> error_handler_owner_;
  kj::Own<kj::TaskSet> tasks_;
};

// The first capability on an authenticated connection: names and capabilities. (The
// secret was proved by the channel's handshake; `secret` is unused and kept so callers
// need not change.)
class GateServer final : public rpc::Gate::Server {
 public:
  GateServer(std::string secret, std::string name, std::string peer, std::function<void()> close,
             rpc::Node::Client node, rpc::Coordinator::Client coordinator);

 protected:
  kj::Promise<void> hello(HelloContext context) override;
  kj::Promise<void> join(JoinContext context) override;

 private:
  [[noreturn]] void refuse(const std::string& why);

  std::string name_, peer_;
  std::function<void()> close_;
  rpc::Node::Client node_;
  rpc::Coordinator::Client coordinator_;
  bool greeted_ = false, joined_ = false;
};

// Converts a std::exception from our code into a kj exception the caller sees verbatim.
[[noreturn]] void throw_rpc_error(const std::string& message);

}  // namespace baton
