// A real `baton node` process driven over Cap'n Proto from this test: authentication,
// memory refusal, and malformed activation frames (each refused with a precise error
// while the node keeps serving).
#include <gtest/gtest.h>
#include <zstd.h>

#include <kj/async-io.h>

#include "../model/test_models.h"
#include "tools/child_process.h"
#include "local_cluster.h"
#include "node/coordinator/cluster.h"
#include "node/model_identity.h"
#include "node/model_source.h"
#include "transport/rpc_peer.h"
#include "transport/activation_frame.h"

namespace baton {
namespace {

class CollectingSink final : public rpc::ResultSink::Server {
 public:
  int delivered = 0;
  uint64_t last_step = 0;

 protected:
  kj::Promise<void> deliver(DeliverContext context) override {
    ++delivered;
    last_step = context.getParams().getLogits().getStep();
    return kj::READY_NOW;
  }
  kj::Promise<void> failed(FailedContext) override { return kj::READY_NOW; }
};

class NodeRpc : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = test::synth_model_path("small", DType::Q8_0);
    node_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{BATON_EXECUTABLE, "node", "--listen", "127.0.0.1:0", "--model", model_, "--memory", "64",
                                 "--name", "rpc-test-node", "--threads", "1", "--no-mdns", "--cache-dir", test::temp_dir("noderpc")},
        test::secret_env());
    auto m = node_->wait_for_line(std::regex(R"(\(port (\d+)\))"), std::chrono::seconds(20));
    ASSERT_TRUE(m) << node_->err();
    address_ = "127.0.0.1:" + std::string((*m)[1]);
  }

  struct Assignment {
    int first = 0, last = 6;
    bool embed = false, head = false;
    uint32_t ctx = 64, sessions = 1;
    const char* kv = "f16";
    uint32_t rows = 8;
  };
  // Node.load with this assignment for the node's own model; the error text, "" on success.
  std::string load(Joined& joined, const Assignment& want) {
    auto described = joined.node.describeRequest().send().wait(io_.waitScope);
    auto req = joined.node.loadRequest();
    auto a = req.initAssignment();
    a.setModelHash(described.getInfo().getModelHash());
    a.setFirst(want.first);
    a.setLast(want.last);
    a.setWithEmbedding(want.embed);
    a.setWithHead(want.head);
    a.setContextLength(want.ctx);
    a.setMaxSessions(want.sessions);
    a.setKvDtype(want.kv);
    a.setMaxFrameRows(want.rows);
    // The node checks its own copy against the coordinator's manifest: serve one.
    if (!file_) file_ = std::make_unique<GgufFile>(GgufFile::open(model_));
    req.setSource(kj::heap<ModelSourceServer>(*file_, model_file_hash(model_)));
    return error_of(req.send().ignoreResult());
  }

  std::string error_of(kj::Promise<void> p) {
    try {
      p.wait(io_.waitScope);
    } catch (const kj::Exception& e) {
      return e.getDescription().cStr();
    }
    return "";
  }

  std::unique_ptr<GgufFile> file_;  // the model source's file: outlives the RPC objects below
  // Held by pointer: AsyncIoContext's destructor may throw, which a gtest fixture's may not.
  std::unique_ptr<kj::AsyncIoContext> io_holder_ = std::make_unique<kj::AsyncIoContext>(kj::setupAsyncIo());
  kj::AsyncIoContext& io_ = *io_holder_;
  std::string model_, address_;
  std::unique_ptr<ChildProcess> node_;
};

TEST_F(NodeRpc, WrongSecretIsRefusedAndTheConnectionClosed) {
  // The handshake fails before any Cap'n Proto is spoken: the dialler sees the node
  // cannot prove the (other) secret, the node logs a refused peer that spent a guess.
  const std::string err = error_of(
      dial_and_join(*io_.provider, address_, "not-the-secret", "coordinator").ignoreResult());
  EXPECT_NE(err.find("could not prove it knows the cluster secret"), std::string::npos) << err;
  EXPECT_NE(err.find(address_), std::string::npos) << "the error names the address: " << err;
  EXPECT_TRUE(test::wait_for_stderr(*node_, "refused 127.0.0.1:")) << "the refusal is logged: " << node_->err();

  // The right secret works.
  auto ok = dial_and_join(*io_.provider, address_, test::kSecret, "coordinator").wait(io_.waitScope);
  auto described = ok.node.describeRequest().send().wait(io_.waitScope);
  auto info = described.getInfo();
  EXPECT_EQ(std::string(info.getName().cStr()), "rpc-test-node");
  EXPECT_EQ(info.getMemoryMib(), 64u);
}

TEST_F(NodeRpc, RangeBeyondMemoryIsRefusedWithTheReason) {
  auto joined = dial_and_join(*io_.provider, address_, test::kSecret, "coordinator").wait(io_.waitScope);
  const std::string err = load(joined, {0, 6, true, true, 4096, 16, "f16", 64});
  EXPECT_NE(err.find("this node offers 64 MiB"), std::string::npos) << err;
  EXPECT_NE(err.find("KV cache"), std::string::npos) << err;
}

TEST_F(NodeRpc, MalformedAssignmentsAreRefusedNamingTheField) {
  auto joined = dial_and_join(*io_.provider, address_, test::kSecret, "coordinator").wait(io_.waitScope);
  auto try_load = [&](int first, int last, uint32_t ctx, uint32_t sessions, const char* kv, uint32_t rows) {
    return load(joined, {first, last, false, false, ctx, sessions, kv, rows});
  };
  EXPECT_NE(try_load(3, 3, 64, 1, "f16", 8).find("empty or negative layer range [3, 3)"), std::string::npos);
  EXPECT_NE(try_load(-1, 2, 64, 1, "f16", 8).find("layer range [-1, 2)"), std::string::npos);
  EXPECT_NE(try_load(0, 99, 64, 1, "f16", 8).find("outside the model's 6 layers"), std::string::npos);
  EXPECT_NE(try_load(0, 2, 0, 1, "f16", 8).find("context 0 is out of range"), std::string::npos);
  EXPECT_NE(try_load(0, 2, 64, 0, "f16", 8).find("maxSessions 0 is out of range"), std::string::npos);
  EXPECT_NE(try_load(0, 2, 64, 1, "q2_K", 8).find("KV cache dtype 'q2_K'"), std::string::npos);
  EXPECT_NE(try_load(0, 2, 64, 1, "f16", 0).find("maxFrameRows 0 is out of range"), std::string::npos);
  EXPECT_EQ(try_load(0, 2, 64, 1, "f16", 8), "") << "a valid assignment still loads afterwards";
}

TEST_F(NodeRpc, MalformedFramesAreRefusedAndTheNodeKeepsServing) {
  auto joined = dial_and_join(*io_.provider, address_, test::kSecret, "coordinator").wait(io_.waitScope);
  ASSERT_EQ(load(joined, {2, 6, false, true, 64, 2, "f16", 8}), "");
  auto sink_server = kj::heap<CollectingSink>();
  CollectingSink& sink = *sink_server;
  auto link = joined.node.linkRequest();
  link.setSink(kj::mv(sink_server));
  link.send().wait(io_.waitScope);
  auto stage = joined.node.stageRequest().send().getStage();

  const uint32_t dim = 512;
  std::vector<float> hidden(dim * 2, 0.25f);
  auto send = [&](uint64_t step, const ActivationFrame& f, uint64_t pos0 = 0) {
    auto req = stage.forwardRequest();
    auto fr = req.initFrame();
    fr.setSession(1);
    fr.setStep(step);
    fr.setPos0(pos0);
    auto h = fr.initHidden();
    h.setRows(f.rows);
    h.setCols(f.cols);
    h.setCodec(f.codec);
    h.setZstd(f.zstd);
    h.setChecksum(f.checksum);
    h.setPayload(kj::arrayPtr(f.payload.data(), f.payload.size()));
    return error_of(req.send().ignoreResult());
  };
  const auto good = encode_frame(1, 1, hidden.data(), 1, dim, parse_wire_format("int8+zstd"));
  EXPECT_EQ(send(1, good), "");
  EXPECT_EQ(sink.delivered, 1);

  auto bad_codec = good;
  bad_codec.codec = 7;
  EXPECT_NE(send(2, bad_codec).find("unknown codec id 7"), std::string::npos);
  auto wrong_cols = encode_frame(1, 1, hidden.data(), 1, 256, parse_wire_format("f32"));
  EXPECT_NE(send(3, wrong_cols).find("256 columns, the model's dim is 512"), std::string::npos);
  std::vector<float> many(dim * 9, 0.1f);
  auto too_many = encode_frame(1, 1, many.data(), 9, dim, parse_wire_format("f16"));
  EXPECT_NE(send(4, too_many).find("9 rows, allowed 1..8"), std::string::npos);
  auto truncated = encode_frame(1, 1, hidden.data(), 1, dim, parse_wire_format("f32"));
  truncated.payload.resize(100);
  EXPECT_NE(send(5, truncated).find("payload is 100 bytes"), std::string::npos);
  std::vector<uint8_t> zeros(32u << 20, 0), bomb(ZSTD_compressBound(zeros.size()));
  bomb.resize(ZSTD_compress(bomb.data(), bomb.size(), zeros.data(), zeros.size(), 3));
  ActivationFrame bomb_frame = good;
  bomb_frame.codec = 0;
  bomb_frame.zstd = true;
  bomb_frame.payload = bomb;
  EXPECT_NE(send(6, bomb_frame).find("zstd"), std::string::npos);
  EXPECT_NE(send(7, good, 5).find("frame starts at position 5 but only 1 are cached"), std::string::npos);
  ActivationFrame huge = good;
  huge.payload.assign(24u << 20, 0x5a);  // far beyond 8 rows x 512 x 4 bytes
  EXPECT_NE(send(9, huge).find("larger than any 8-row frame of dim 512"), std::string::npos);

  // Still serving: the next valid frame of the session goes through.
  EXPECT_EQ(send(8, good, 1), "");
  EXPECT_EQ(sink.delivered, 2);
  EXPECT_EQ(sink.last_step, 8u);
  EXPECT_TRUE(node_->running());
}

}  // namespace
}  // namespace baton
