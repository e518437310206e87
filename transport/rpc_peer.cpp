#include "transport/rpc_peer.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <capnp/message.h>

#include "transport/auth.h"

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

kj::ArrayPtr<const kj::byte> bytes_of(const std::vector<uint8_t>& v) { return kj::arrayPtr(v.data(), v.size()); }

std::vector<uint8_t> to_vector(capnp::Data::Reader d) { return std::vector<uint8_t>(d.begin(), d.end()); }

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

kj::Promise<kj::Own<RpcPeer>> dial(kj::Network& network, const std::string& address) {
  return network.parseAddress(address.c_str())
      .then([](kj::Own<kj::NetworkAddress> addr) { return addr->connect().attach(kj::mv(addr)); })
      .then([address](kj::Own<kj::AsyncIoStream> stream) {
        auto peer = kj::heap<RpcPeer>();
        peer->address = address;
        peer->stream = kj::mv(stream);
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

kj::Promise<Joined> dial_and_join(kj::Network& network, const std::string& address, const std::string& secret,
                                  const std::string& role) {
  return dial(network, address).then([secret, role, address](kj::Own<RpcPeer> peer) {
    auto client_nonce = random_nonce();
    auto hello = peer->gate.helloRequest();
    hello.setProtocolVersion(rpc::PROTOCOL_VERSION);
    hello.setClientNonce(bytes_of(client_nonce));
    return hello.send().then([peer = kj::mv(peer), client_nonce, secret, role, address](
                                 capnp::Response<rpc::Gate::HelloResults> r) mutable {
      if (r.getProtocolVersion() != rpc::PROTOCOL_VERSION) {
        throw_rpc_error(fmt::format("{} speaks protocol version {}, this build speaks {}", address,
                                    r.getProtocolVersion(), rpc::PROTOCOL_VERSION));
      }
      auto node_nonce = to_vector(r.getNonce());
      if (node_nonce.size() != kNonceBytes) throw_rpc_error(fmt::format("{} sent a malformed nonce", address));
      std::string name = r.getNodeName();
      auto join = peer->gate.joinRequest();
      join.setMac(bytes_of(join_mac(secret, node_nonce, client_nonce, role)));
      join.setRole(role);
      return join.send().then([peer = kj::mv(peer), node_nonce, client_nonce, secret, address, name](
                                  capnp::Response<rpc::Gate::JoinResults> j) mutable {
        if (!macs_equal(to_vector(j.getProof()), proof_mac(secret, node_nonce, client_nonce))) {
          throw_rpc_error(fmt::format("{} could not prove it knows the cluster secret", address));
        }
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

RpcListener::RpcListener(kj::AsyncIoContext& io, const std::string& address, BootstrapFactory factory)
    : io_(io), factory_(std::move(factory)) {
  auto addr = io.provider->getNetwork().parseAddress(address.c_str()).wait(io.waitScope);
  receiver_ = addr->listen();
  error_handler_owner_ = kj::heap<LoggingErrorHandler>();
  error_handler_ = error_handler_owner_.get();
  tasks_ = kj::heap<kj::TaskSet>(*error_handler_);
}

uint RpcListener::port() { return receiver_->getPort(); }

kj::Promise<void> RpcListener::run() { return accept_loop(); }

kj::Promise<void> RpcListener::accept_loop() {
  return receiver_->accept().then([this](kj::Own<kj::AsyncIoStream> stream) {
    const std::string peer = describe_peer(*stream);
    spdlog::debug("connection from {}", peer);
    auto alive = std::make_shared<bool>(true);
    kj::AsyncIoStream* raw = stream.get();
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
    auto conn = kj::heap<Connection>(kj::mv(stream), factory_(close, peer), alive);
    auto done = conn->network.onDisconnect();
    tasks_->add(done.attach(kj::mv(conn)));
    return accept_loop();
  });
}

// ---------------------------------------------------------------- gate

GateServer::GateServer(std::string secret, std::string name, std::string peer, std::function<void()> close,
                       rpc::Node::Client node, rpc::Coordinator::Client coordinator)
    : secret_(std::move(secret)),
      name_(std::move(name)),
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
  if (!node_nonce_.empty()) refuse("hello sent twice");
  if (p.getProtocolVersion() != rpc::PROTOCOL_VERSION) {
    refuse(fmt::format("protocol version {} (this node speaks {})", p.getProtocolVersion(), rpc::PROTOCOL_VERSION));
  }
  if (p.getClientNonce().size() != kNonceBytes) refuse("malformed client nonce");
  client_nonce_ = to_vector(p.getClientNonce());
  node_nonce_ = random_nonce();
  auto r = context.getResults();
  r.setProtocolVersion(rpc::PROTOCOL_VERSION);
  r.setNonce(bytes_of(node_nonce_));
  r.setNodeName(name_);
  return kj::READY_NOW;
}

kj::Promise<void> GateServer::join(JoinContext context) {
  if (node_nonce_.empty()) refuse("join before hello");
  if (joined_) refuse("joined twice");
  auto p = context.getParams();
  const std::string role = p.getRole();
  if (!macs_equal(to_vector(p.getMac()), join_mac(secret_, node_nonce_, client_nonce_, role))) {
    refuse("wrong cluster secret");
  }
  joined_ = true;
  spdlog::info("{} joined as {}", peer_, role);
  auto r = context.getResults();
  r.setProof(bytes_of(proof_mac(secret_, node_nonce_, client_nonce_)));
  r.setNode(node_);
  r.setCoordinator(coordinator_);
  return kj::READY_NOW;
}

}  // namespace baton
