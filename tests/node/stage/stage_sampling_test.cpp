// The last stage samples with the request's parameters where the logits are: two stages
// in one process (f32 between them) give the same tokens, penalties and seeded draws
// included, as the whole model sampled here, and only the token travels back.
#include <gtest/gtest.h>

#include <capnp/message.h>
#include <kj/async-io.h>

#include <map>

#include "model/local_backend.h"
#include "node/stage/stage_service.h"
#include "transport/sampling_wire.h"

namespace baton {
namespace {

std::string model_path() { return std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf"; }

struct Delivered {
  std::vector<SampledToken> sampled;
  uint64_t rng_draws = 0;
  uint64_t wire_bytes = 0;
  bool had_logits = false;
};

class TokenSink final : public rpc::ResultSink::Server {
 public:
  explicit TokenSink(std::map<uint64_t, Delivered>& out) : out_(out) {}

 protected:
  kj::Promise<void> deliver(DeliverContext context) override {
    auto l = context.getParams().getLogits();
    Delivered d;
    for (auto t : l.getSampled()) d.sampled.push_back(read_sampled(t, 1 << 20));
    d.rng_draws = l.getRngDraws();
    d.wire_bytes = l.getTimings()[l.getTimings().size() - 1].getWireBytes();
    d.had_logits = l.isFull() ? l.getFull().size() > 0 : l.getTop().getIds().size() > 0;
    out_[l.getStep()] = std::move(d);
    return kj::READY_NOW;
  }

 private:
  std::map<uint64_t, Delivered>& out_;
};

class StageSampling : public ::testing::Test {
 protected:
  void SetUp() override {
    auto first = Model::open(model_path(), ModelOpenOptions{});
    const int layers = first->hparams().n_layers;
    StageAssignment a;
    a.range = LayerRange{0, layers / 2};
    a.with_embedding = true;
    a.context = 128;
    a.max_frame_rows = 64;
    first_ = std::make_shared<StageRuntime>(std::move(first), a, 1);
    StageAssignment b = a;
    b.range = LayerRange{layers / 2, layers};
    b.with_embedding = false;
    b.with_head = true;
    b.stage_index = 1;
    last_ = std::make_shared<StageRuntime>(Model::open(model_path(), ModelOpenOptions{}), b, 1);
    last_->link_sink(kj::heap<TokenSink>(delivered_));
    first_->link_next(kj::heap<StageServer>(&last_));
  }

  SampleResult step(uint64_t n, uint64_t pos0, const std::vector<int32_t>& tokens, const SamplingRequest& r) {
    capnp::MallocMessageBuilder message;
    auto f = message.initRoot<rpc::Frame>();
    f.setSession(1);
    f.setStep(n);
    f.setPos0(pos0);
    f.setWire(0);  // f32 between the stages: bit-exact
    auto list = f.initTokens(static_cast<unsigned>(tokens.size()));
    for (unsigned i = 0; i < tokens.size(); ++i) list.set(i, tokens[i]);
    write_sampling(r, f.initSampling());
    first_->forward(f.asReader()).wait(io_.waitScope);
    const Delivered& d = delivered_.at(n);
    EXPECT_FALSE(d.had_logits);
    EXPECT_EQ(d.sampled.size(), 1u);
    if (!r.logprobs.any()) EXPECT_LE(d.wire_bytes, 64u) << "bytes back per token";
    return {d.sampled.empty() ? SampledToken{} : d.sampled[0], d.rng_draws};
  }

  std::unique_ptr<kj::AsyncIoContext> io_ctx_ = std::make_unique<kj::AsyncIoContext>(kj::setupAsyncIo());
  kj::AsyncIoContext& io_ = *io_ctx_;
  std::map<uint64_t, Delivered> delivered_;
  std::shared_ptr<StageRuntime> first_, last_;

  void TearDown() override {
    first_.reset();
    last_.reset();
  }
};

TEST_F(StageSampling, SeededPenalisedSamplingEqualsTheWholeModelSampledHere) {
  auto whole = Model::open(model_path(), ModelOpenOptions{});
  LocalBackend local(whole->transformer(), DType::F16, 128, nullptr);
  SamplingRequest request;
  request.sampler.temperature = 0.8f;
  request.sampler.seed = 1234;
  request.sampler.frequency_penalty = 0.2f;
  request.sampler.logit_bias = {{5, 1.5f}};
  request.logprobs = {true, 3};
  const std::vector<int32_t> prompt = {1, 400, 33, 87, 5, 12};

  std::vector<int32_t> history = prompt;
  SamplingRequest here = request, there = request;
  std::vector<float> logits = local.forward(prompt, 0);
  SampleResult expected = sample_next(logits, history, here);
  SampleResult got = step(1, 0, prompt, there);
  for (int i = 0; i < 24; ++i) {
    ASSERT_EQ(got.token.id, expected.token.id) << "token " << i;
    ASSERT_EQ(got.rng_draws, expected.rng_draws);
    if (here.logprobs.any()) {
      ASSERT_TRUE(got.token.logprob && expected.token.logprob);
      EXPECT_FLOAT_EQ(*got.token.logprob, *expected.token.logprob);
      ASSERT_EQ(got.token.top.size(), 3u);
    } else {
      EXPECT_FALSE(got.token.logprob);
      EXPECT_TRUE(got.token.top.empty());
    }
    const int32_t id = expected.token.id;
    here.rng_draws = expected.rng_draws;
    there.rng_draws = got.rng_draws;
    // Every other step asks for logprobs; the rest get the token alone.
    here.logprobs = there.logprobs = i % 2 ? LogprobsRequest{true, 3} : LogprobsRequest{};
    history.push_back(id);
    logits = local.forward(std::vector<int32_t>{id}, static_cast<int64_t>(history.size()) - 1);
    expected = sample_next(logits, history, here);
    got = step(static_cast<uint64_t>(i + 2), history.size() - 1, {id}, there);
  }
  EXPECT_GT(got.rng_draws, 20u) << "the generator advanced across the steps";
}

// Speculative frames: [last token, drafts] verified on the last stage. Drafts that are
// partly right and partly wrong, penalties and a seeded sampler: the tokens that come
// back are exactly the plain sequence, and the rejected drafts' K/V (left on both stages
// past the accepted position) never reach a later token, since each frame's pos0 drops them.
TEST_F(StageSampling, VerifiedDraftsGiveThePlainSequenceAndRollBack) {
  auto whole = Model::open(model_path(), ModelOpenOptions{});
  LocalBackend local(whole->transformer(), DType::F16, 128, nullptr);
  SamplingRequest request;
  request.sampler.temperature = 0.9f;
  request.sampler.seed = 77;
  request.sampler.repeat_penalty = 1.2f;
  request.sampler.presence_penalty = 0.3f;
  const std::vector<int32_t> prompt = {1, 400, 33, 87, 5, 12};

  // The plain sequence, one token per forward.
  std::vector<int32_t> plain = prompt;
  SamplingRequest here = request;
  std::vector<float> logits = local.forward(prompt, 0);
  for (int i = 0; i < 30; ++i) {
    SampleResult r = sample_next(logits, plain, here);
    here.rng_draws = r.rng_draws;
    plain.push_back(r.token.id);
    logits = local.forward(std::vector<int32_t>{r.token.id}, static_cast<int64_t>(plain.size()) - 1);
  }

  // Through the stages: the prompt, then verify frames whose drafts are the plain
  // continuation for `right` tokens and then wrong ones.
  SamplingRequest there = request;
  SampleResult first = step(1, 0, prompt, there);
  ASSERT_EQ(first.token.id, plain[prompt.size()]);
  there.rng_draws = first.rng_draws;
  std::vector<int32_t> got(prompt.begin(), prompt.end());
  got.push_back(first.token.id);
  uint64_t n = 2;
  const int vocab = whole->hparams().vocab_size;
  for (int round = 0; got.size() < plain.size() - 6; ++round, ++n) {
    const size_t right = static_cast<size_t>(round % 4);  // 0..3 right drafts, then 2 wrong
    std::vector<int32_t> rows{got.back()};
    for (size_t i = 0; i < right; ++i) rows.push_back(plain[got.size() + i]);
    for (size_t i = 0; i < 2; ++i) rows.push_back((plain[got.size() + right + i] + 1 + static_cast<int32_t>(i)) % vocab);
    capnp::MallocMessageBuilder message;
    auto f = message.initRoot<rpc::Frame>();
    f.setSession(1);
    f.setStep(n);
    f.setPos0(got.size() - 1);
    f.setWire(0);
    auto list = f.initTokens(static_cast<unsigned>(rows.size()));
    for (unsigned i = 0; i < rows.size(); ++i) list.set(i, rows[i]);
    write_sampling(there, f.initSampling());
    f.setVerifyRows(static_cast<uint32_t>(rows.size()));
    first_->forward(f.asReader()).wait(io_.waitScope);
    const Delivered& d = delivered_.at(n);
    ASSERT_EQ(d.sampled.size(), right + 1) << "round " << round;
    for (const SampledToken& t : d.sampled) got.push_back(t.id);
    there.rng_draws = d.rng_draws;
    ASSERT_EQ(std::vector<int32_t>(got.begin(), got.end()),
              std::vector<int32_t>(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(got.size())))
        << "round " << round;
  }
}

TEST_F(StageSampling, AVerifyFrameIsCheckedBeforeItRuns) {
  capnp::MallocMessageBuilder message;
  auto f = message.initRoot<rpc::Frame>();
  f.setSession(3);
  f.setStep(1);
  auto list = f.initTokens(2);
  list.set(0, 1), list.set(1, 2);
  f.setVerifyRows(3);  // more rows than the frame has
  write_sampling(SamplingRequest{}, f.initSampling());
  EXPECT_THROW(first_->forward(f.asReader()).wait(io_.waitScope), std::invalid_argument);
  capnp::MallocMessageBuilder again;
  auto g = again.initRoot<rpc::Frame>();
  g.setSession(3);
  g.setStep(2);
  auto ids = g.initTokens(2);
  ids.set(0, 1), ids.set(1, 2);
  g.setVerifyRows(2);  // no sampling parameters to verify with
  EXPECT_THROW(first_->forward(g.asReader()).wait(io_.waitScope), std::invalid_argument);
}

TEST_F(StageSampling, ABadSamplingRequestIsRefusedNamingTheField) {
  SamplingRequest r;
  r.sampler.logit_bias = {{1 << 30, 1.0f}};
  capnp::MallocMessageBuilder message;
  auto f = message.initRoot<rpc::Frame>();
  f.setSession(2);
  f.setStep(1);
  f.initTokens(1).set(0, 1);
  write_sampling(r, f.initSampling());
  try {
    first_->forward(f.asReader()).wait(io_.waitScope);
    ADD_FAILURE() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("logit_bias"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace baton
