#include "transport/rpc_peer.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cmath>
#include <utility>

#include <capnp/message.h>

#include "transport/secure_channel.h"

namespace baton {

capnp::ReaderOptions rpc_reader_options() {
  capnp::ReaderOptions o;
  o.traversalLimitInWords = 8ull * 1024 * 1024;  // 64 MiB per message
  o.nestingLimit = 16;                           // our schema nests a handful of levels
  return o;
}

void throw_rpc_error(const std::string& message) {
  kj::throwFatalException(kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__, kj::str(message.c_str())));
}

namespace {

std::string describe_peer(kj::AsyncIoStream& stream) {
  sockaddr_storage ss{};
  kj::uint len = sizeof(ss);
  try {
    stream.getpeername(reinterpret_cast<sockaddr*>(&ss), &len);
  } catch (...) {
    return "unknown peer";
  }
  char host[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    return fmt::format("{}:{}", host, ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    return fmt::format("[{}]:{}", host, ntohs(a->sin6_port));
  }
  return "local peer";
}

class LoggingErrorHandler final : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&& e) override { spdlog::debug("connection ended: {}", e.getDescription().cStr()); }
};

}  // namespace

static_assert(kChannelProtocolVersion == rpc::PROTOCOL_VERSION, "the handshake and the schema speak one version");

kj::Promise<kj::Own<RpcPeer>> dial(kj::Network& network, const std::string& address, const std::string& secret,
                                   const std::string& role) {
  return network.parseAddress(address.c_str())
      .then([](kj::Own<kj::NetworkAddress> addr) { return addr->connect().attach(kj::mv(addr)); })
      .then([address, secret, role](kj::Own<kj::AsyncIoStream> stream) {
        return handshake_as_dialler(kj::mv(stream), secret, role, address);
      })
      .then([address](SecureChannel channel) {
        auto peer = kj::heap<RpcPeer>();
        peer->address = address;
        peer->stream = kj::mv(channel.stream);
        peer->network = kj::heap<capnp::TwoPartyVatNetwork>(*peer->stream, capnp::rpc::twoparty::Side::CLIENT,
                                                            rpc_reader_options());
        peer->rpc = kj::heap(capnp::makeRpcClient(*peer->network));
        capnp::MallocMessageBuilder message(8);
        auto vat = message.getRoot<capnp::rpc::twoparty::VatId>();
        vat.setSide(capnp::rpc::twoparty::Side::SERVER);
        peer->gate = peer->rpc->bootstrap(vat).castAs<rpc::Gate>();
        return peer;
      });
}

// hello + join over a dialled channel.
static kj::Promise<Joined> join_over(kj::Promise<kj::Own<RpcPeer>> dialled, const std::string& role,
                                     const std::string& address);

kj::Promise<Joined> dial_and_join(kj::AsyncIoProvider& io, const std::string& address, const std::string& secret,
                                  const std::string& role, kj::Duration deadline) {
  auto expired = io.getTimer().afterDelay(deadline).then([address, deadline]() -> Joined {
    kj::throwFatalException(kj::Exception(
        kj::Exception::Type::OVERLOADED, __FILE__, __LINE__,
        kj::str(fmt::format("{} did not complete the handshake within {:g} s (not a baton process, or frozen)", address,
                            static_cast<double>(deadline / kj::MILLISECONDS) / 1000)
                    .c_str())));
  });
  return join_over(dial(io.getNetwork(), address, secret, role), role, address).exclusiveJoin(kj::mv(expired));
}

static kj::Promise<Joined> join_over(kj::Promise<kj::Own<RpcPeer>> dialled, const std::string& role,
                                     const std::string& address) {
  return dialled.then([role, address](kj::Own<RpcPeer> peer) {
    auto hello = peer->gate.helloRequest();
    hello.setProtocolVersion(rpc::PROTOCOL_VERSION);
    return hello.send().then(
        [peer = kj::mv(peer), role, address](capnp::Response<rpc::Gate::HelloResults> r) mutable {
          if (r.getProtocolVersion() != rpc::PROTOCOL_VERSION) {
            throw_rpc_error(fmt::format("{} speaks protocol version {}, this build speaks {}", address,
                                        r.getProtocolVersion(), rpc::PROTOCOL_VERSION));
          }
          std::string name = r.getNodeName();
          auto join = peer->gate.joinRequest();
          join.setRole(role);
          return join.send().then(
              [peer = kj::mv(peer), name](capnp::Response<rpc::Gate::JoinResults> j) mutable {
                Joined out;
                out.name = name;
                if (j.hasNode()) out.node = j.getNode();
                if (j.hasCoordinator()) out.coordinator = j.getCoordinator();
                out.peer = kj::mv(peer);
                return out;
              });
        });
  });
}

// ---------------------------------------------------------------- listening side

struct RpcListener::Connection {
  Connection(kj::Own<kj::AsyncIoStream> s, capnp::Capability::Client bootstrap, std::shared_ptr<bool> alive_flag)
      : stream(kj::mv(s)),
        network(*stream, capnp::rpc::twoparty::Side::SERVER, rpc_reader_options()),
        rpc(capnp::makeRpcServer(network, kj::mv(bootstrap))),
        alive(kj::mv(alive_flag)) {}
  ~Connection() { *alive = false; }
  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
  std::shared_ptr<bool> alive;
};

// A handshake in progress: evicting it (when too many are pending) rejects its promise.
struct RpcListener::Pending {
  std::string source;
  std::shared_ptr<HandshakeProgress> progress = std::make_shared<HandshakeProgress>();
  kj::Own<kj::PromiseFulfiller<void>> evict;
  std::list<Pending*>::iterator position;
};

RpcListener::RpcListener(kj::AsyncIoContext& io, const std::string& address, BootstrapFactory factory,
                         ListenerSecurity security)
    : io_(io), factory_(std::move(factory)), security_(std::move(security)), guard_(security_.limits) {
  auto addr = io.provider->getNetwork().parseAddress(address.c_str()).wait(io.waitScope);
  receiver_ = addr->listen();
  error_handler_owner_ = kj::heap<LoggingErrorHandler>();
  error_handler_ = error_handler_owner_.get();
  tasks_ = kj::heap<kj::TaskSet>(*error_handler_);
}

RpcListener::~RpcListener() {
  tasks_ = nullptr;  // cancels handshakes (which unlink themselves from pending_) and connections
}

uint RpcListener::port() { return receiver_->getPort(); }

kj::Promise<void> RpcListener::run() { return accept_loop(); }

kj::Promise<void> RpcListener::accept_loop() {
  return receiver_->accept().then(
      [this](kj::Own<kj::AsyncIoStream> stream) {
        accept_backoff_ = 0 * kj::MILLISECONDS;
        handle(kj::mv(stream));
        return accept_loop();
      },
      [this](kj::Exception&& e) {
        // Out of file descriptors (EMFILE/ENFILE) or a transient network error: wait and
        // try again rather than exit; pending handshakes time out and free descriptors.
        accept_backoff_ = std::min(std::max(accept_backoff_ * 2, 50 * kj::MILLISECONDS), 1000 * kj::MILLISECONDS);
        spdlog::warn("accepting a connection failed ({}); retrying in {} ms", e.getDescription().cStr(),
                     accept_backoff_ / kj::MILLISECONDS);
        return io_.provider->getTimer().afterDelay(accept_backoff_).then([this] { return accept_loop(); });
      });
}

void RpcListener::handle(kj::Own<kj::AsyncIoStream> stream) {
  const std::string peer = describe_peer(*stream);
  const std::string source = peer.substr(0, peer.rfind(':'));
  const auto admission = guard_.admit(source, HandshakeGuard::Clock::now());
  using V = HandshakeGuard::Verdict;
  if (admission.verdict == V::too_many_pending || admission.verdict == V::too_many_failures) {
    const std::string why =
        admission.verdict == V::too_many_pending
            ? fmt::format("too many handshakes in progress from {}", source)
            : fmt::format("too many failed handshakes from {}; try again in {:.0f} s", source,
                          std::ceil(admission.retry_after_s));
    spdlog::debug("turned away {}: {}", peer, why);
    tasks_->add(io_.provider->getTimer().timeoutAfter(1 * kj::SECONDS, refuse_connection(kj::mv(stream), why)));
    return;
  }
  if (admission.verdict == V::admit_evicting_oldest && !pending_.empty()) evict_one_pending();
  spdlog::debug("connection from {}", peer);
  auto pending = kj::heap<Pending>();
  auto evicted = kj::newPromiseAndFulfiller<void>();
  pending->source = source;
  pending->evict = kj::mv(evicted.fulfiller);
  pending->position = pending_.insert(pending_.end(), pending.get());
  // Unlinks itself from pending_ and settles the guard however the handshake ends
  // (including cancellation when the listener goes away).
  struct Release {
    Release(RpcListener* self, kj::Own<Pending> p) : self(self), p(kj::mv(p)) {}
    Release(const Release&) = delete;
    Release& operator=(const Release&) = delete;
    RpcListener* self;
    kj::Own<Pending> p;
    ~Release() {
      self->pending_.erase(p->position);
      self->guard_.finished(p->source, p->progress->spent_a_guess, HandshakeGuard::Clock::now());
    }
  };
  auto progress = pending->progress;
  auto release = kj::heap<Release>(this, kj::mv(pending));
  auto handshake = handshake_as_listener(kj::mv(stream), security_.secret, security_.role, progress);
  auto bounded = io_.provider->getTimer()
                     .timeoutAfter(security_.handshake_deadline, kj::mv(handshake))
                     .exclusiveJoin(evicted.promise.then([]() -> ListenerOutcome { return {}; }));
  tasks_->add(bounded
                  .then(
                      [this, peer](ListenerOutcome outcome) {
                        KJ_IF_MAYBE(channel, outcome.channel) {
                          spdlog::debug("{} authenticated as {}", peer, channel->peer_role);
                          serve(kj::mv(channel->stream), peer);
                        } else if (may_log_failure()) {
                          const std::string more =
                              unlogged_failures_ ? fmt::format(" ({} more failed handshakes not logged)",
                                                               std::exchange(unlogged_failures_, 0))
                                                 : "";
                          if (outcome.spent_a_guess) {
                            spdlog::warn("refused {}: {}{}", peer, outcome.error, more);
                          } else {
                            spdlog::info("handshake with {} failed: {}{}", peer, outcome.error, more);
                          }
                        }
                      },
                      [peer](kj::Exception&& e) {
                        // Deadline or eviction: routine under load, and no guess was decided.
                        spdlog::debug("handshake with {} abandoned: {}", peer,
                                      e.getType() == kj::Exception::Type::OVERLOADED
                                          ? "took longer than the handshake deadline"
                                          : e.getDescription().cStr());
                      })
                  .attach(kj::mv(release)));
}

void RpcListener::evict_one_pending() {
  std::vector<bool> heard;
  heard.reserve(pending_.size());
  for (const Pending* p : pending_) heard.push_back(p->progress->heard_hello);
  auto victim = std::next(pending_.begin(), static_cast<std::ptrdiff_t>(handshake_to_evict(heard)));
  (*victim)->evict->reject(KJ_EXCEPTION(DISCONNECTED, "evicted: too many handshakes in progress"));
}

bool RpcListener::may_log_failure() {
  const auto now = std::chrono::steady_clock::now();
  if (now - log_window_ > std::chrono::seconds(10)) {
    log_window_ = now;
    logged_in_window_ = 0;
  }
  if (logged_in_window_ < 10) {
    ++logged_in_window_;
    return true;
  }
  ++unlogged_failures_;
  return false;
}

void RpcListener::serve(kj::Own<kj::AsyncIoStream> secure, const std::string& peer) {
  auto alive = std::make_shared<bool>(true);
  kj::AsyncIoStream* raw = secure.get();
  kj::Timer& timer = io_.provider->getTimer();
  // Hang up shortly after the refusal reply has been written.
  auto close = [alive, raw, &timer, this] {
    tasks_->add(timer.afterDelay(50 * kj::MILLISECONDS).then([alive, raw] {
      if (*alive) {
        raw->shutdownWrite();
        raw->abortRead();
      }
    }));
  };
  auto conn = kj::heap<Connection>(kj::mv(secure), factory_(close, peer), alive);
  auto done = conn->network.onDisconnect();
  tasks_->add(done.attach(kj::mv(conn)));
}

// ---------------------------------------------------------------- gate

GateServer::GateServer(std::string /*secret: proved by the channel*/, std::string name, std::string peer,
                       std::function<void()> close, rpc::Node::Client node, rpc::Coordinator::Client coordinator)
    : name_(std::move(name)),
      peer_(std::move(peer)),
      close_(std::move(close)),
      node_(kj::mv(node)),
      coordinator_(kj::mv(coordinator)) {}

void GateServer::refuse(const std::string& why) {
  spdlog::warn("refused {}: {}", peer_, why);
  if (close_) close_();
  throw_rpc_error(fmt::format("refused by {}: {}", name_, why));
}

kj::Promise<void> GateServer::hello(HelloContext context) {
  auto p = context.getParams();
  if (greeted_) refuse("hello sent twice");
  if (p.getProtocolVersion() != rpc::PROTOCOL_VERSION) {
    refuse(fmt::format("protocol version {} (this node speaks {})", p.getProtocolVersion(), rpc::PROTOCOL_VERSION));
  }
  greeted_ = true;
  auto r = context.getResults();
  r.setProtocolVersion(rpc::PROTOCOL_VERSION);
  r.setNodeName(name_);
  return kj::READY_NOW;
}

kj::Promise<void> GateServer::join(JoinContext context) {
  if (!greeted_) refuse("join before hello");
  if (joined_) refuse("joined twice");
  joined_ = true;
  spdlog::info("{} joined as {}", peer_, std::string(context.getParams().getRole()));
  auto r = context.getResults();
  r.setNode(node_);
  r.setCoordinator(coordinator_);
  return kj::READY_NOW;
}

}  // namespace baton
