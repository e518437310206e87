// A stage computes frames of different sessions that arrive together as one batch, and
// every frame's logits are bit-identical to computing it alone.
#include <gtest/gtest.h>

#include <capnp/message.h>
#include <kj/async-io.h>

#include <map>

#include "node/stage/stage_service.h"

namespace baton {
namespace {

// Collects the logits the stage delivers, by (session, step).
class CollectingSink final : public rpc::ResultSink::Server {
 public:
  explicit CollectingSink(std::map<std::pair<uint64_t, uint64_t>, std::vector<float>>& out) : out_(out) {}

 protected:
  kj::Promise<void> deliver(DeliverContext context) override {
    auto l = context.getParams().getLogits();
    std::vector<float> v;
    for (float x : l.getFull()) v.push_back(x);
    out_[{l.getSession(), l.getStep()}] = std::move(v);
    return kj::READY_NOW;
  }

 private:
  std::map<std::pair<uint64_t, uint64_t>, std::vector<float>>& out_;
};

class StageBatching : public ::testing::Test {
 protected:
  void SetUp() override {
    auto model = Model::open(std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf", ModelOpenOptions{});
    StageAssignment a;
    a.range = LayerRange{0, model->hparams().n_layers};
    a.with_embedding = true;
    a.with_head = true;
    a.context = 64;
    a.max_sessions = 4;
    a.max_frame_rows = 16;
    runtime_ = std::make_unique<StageRuntime>(std::move(model), a, 1, &io_.provider->getTimer());
    runtime_->link_sink(kj::heap<CollectingSink>(logits_));
  }

  // Stage.forward of token ids for (session, step) at pos0 (full logits back).
  kj::Promise<void> send(uint64_t session, uint64_t step, uint64_t pos0, const std::vector<int32_t>& tokens,
                         uint32_t group = 0) {
    auto message = kj::heap<capnp::MallocMessageBuilder>();
    auto f = message->initRoot<rpc::Frame>();
    f.setSession(session);
    f.setStep(step);
    f.setPos0(pos0);
    f.setBatchGroup(group);
    auto list = f.initTokens(static_cast<unsigned>(tokens.size()));
    for (unsigned i = 0; i < tokens.size(); ++i) list.set(i, tokens[i]);
    auto done = runtime_->forward(f.asReader());
    return done.attach(kj::mv(message));
  }

  // Held by pointer: kj's destructors may throw, a gtest fixture's must not.
  std::unique_ptr<kj::AsyncIoContext> io_ctx_ = std::make_unique<kj::AsyncIoContext>(kj::setupAsyncIo());
  kj::AsyncIoContext& io_ = *io_ctx_;
  std::map<std::pair<uint64_t, uint64_t>, std::vector<float>> logits_;
  std::unique_ptr<StageRuntime> runtime_;

  void TearDown() override { runtime_.reset(); }
};

TEST_F(StageBatching, FramesOfDifferentSessionsArrivingTogetherRunAsOneBatchWithIdenticalLogits) {
  const std::vector<int32_t> prompt_a = {1, 400, 33, 87, 5}, prompt_b = {1, 250, 71};
  const std::vector<int32_t> decode_a = {12, 99, 7}, decode_b = {45, 3, 300};
  // Alone: sessions 1 and 2, one frame at a time.
  send(1, 1, 0, prompt_a).wait(io_.waitScope);
  send(2, 1, 0, prompt_b).wait(io_.waitScope);
  for (size_t i = 0; i < decode_a.size(); ++i) {
    send(1, i + 2, prompt_a.size() + i, {decode_a[i]}).wait(io_.waitScope);
    send(2, i + 2, prompt_b.size() + i, {decode_b[i]}).wait(io_.waitScope);
  }
  const uint64_t batches_alone = runtime_->batches_run();
  EXPECT_EQ(batches_alone, 2 + 2 * decode_a.size());
  EXPECT_EQ(runtime_->frames_batched(), batches_alone);

  // Together: sessions 3 and 4 send each step's frames before the stage gets to run.
  auto both = [&](kj::Promise<void> x, kj::Promise<void> y) {
    kj::Vector<kj::Promise<void>> v;
    v.add(kj::mv(x));
    v.add(kj::mv(y));
    kj::joinPromises(v.releaseAsArray()).wait(io_.waitScope);
  };
  both(send(3, 1, 0, prompt_a), send(4, 1, 0, prompt_b));  // prefill rows of unequal length
  for (size_t i = 0; i < decode_a.size(); ++i) {
    both(send(3, i + 2, prompt_a.size() + i, {decode_a[i]}), send(4, i + 2, prompt_b.size() + i, {decode_b[i]}));
  }
  EXPECT_EQ(runtime_->batches_run() - batches_alone, 1 + decode_a.size()) << "each pair must run as one batch";
  EXPECT_EQ(runtime_->frames_batched() - batches_alone, 2 * (1 + decode_a.size()));
  for (uint64_t step = 1; step <= 1 + decode_a.size(); ++step) {
    ASSERT_TRUE(logits_.count({3, step}) && logits_.count({4, step}));
    EXPECT_EQ((logits_[{3, step}]), (logits_[{1, step}])) << "session A, step " << step;
    EXPECT_EQ((logits_[{4, step}]), (logits_[{2, step}])) << "session B, step " << step;
  }
}

TEST_F(StageBatching, TwoFramesOfOneSessionAreNotBatchedTogether) {
  const std::vector<int32_t> prompt = {1, 400, 33};
  kj::Vector<kj::Promise<void>> v;
  v.add(send(7, 1, 0, prompt));
  v.add(send(7, 2, prompt.size(), {42}));  // builds on the first frame's KV
  kj::joinPromises(v.releaseAsArray()).wait(io_.waitScope);
  EXPECT_EQ(runtime_->batches_run(), 2u);
  // Same as sending them one after the other.
  send(8, 1, 0, prompt).wait(io_.waitScope);
  send(8, 2, prompt.size(), {42}).wait(io_.waitScope);
  EXPECT_EQ((logits_[{7, 2}]), (logits_[{8, 2}]));
}

TEST_F(StageBatching, FramesOfDifferentBatchGroupsRunSeparately) {
  kj::Vector<kj::Promise<void>> v;
  v.add(send(1, 1, 0, {1, 2}, /*group=*/0));
  v.add(send(2, 1, 0, {1, 3}, /*group=*/1));
  v.add(send(3, 1, 0, {1, 4}, /*group=*/0));
  kj::joinPromises(v.releaseAsArray()).wait(io_.waitScope);
  EXPECT_EQ(runtime_->batches_run(), 2u) << "group 0 (sessions 1 and 3) together, then group 1";
  EXPECT_EQ(runtime_->frames_batched(), 3u);
  EXPECT_EQ(logits_.size(), 3u);
}

TEST_F(StageBatching, AFrameWithAPositionGapFailsAloneAndItsBatchMateSucceeds) {
  kj::Vector<kj::Promise<void>> v;
  v.add(send(1, 1, 0, {1, 2, 3}));
  bool failed = false;
  v.add(send(2, 1, 5, {9}).catch_([&](kj::Exception&& e) {
    failed = true;
    EXPECT_NE(std::string(e.getDescription().cStr()).find("only 0 are cached"), std::string::npos)
        << e.getDescription().cStr();
  }));
  kj::joinPromises(v.releaseAsArray()).wait(io_.waitScope);
  EXPECT_TRUE(failed);
  EXPECT_TRUE(logits_.count({1, 1}));
  EXPECT_FALSE(logits_.count({2, 1}));
}

}  // namespace
}  // namespace baton
