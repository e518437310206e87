// Sliding-window layers keep only the positions they can read (model/sliding_window.h):
// Gemma 2 / 3 computed with those caches equal the full-cache computation bit for bit,
// over sequences that slide the caches' rows many times (synthesised window: 6 positions,
// rows kept: 6 - 1 + kSlidingRollback + kSlidingHeadroom = 133), in prompt chunks wider
// than the rows can take at once, with speculative rollbacks across slides, prompt-cache
// reuse, and pipeline splits; what cannot be rolled back is refused, never answered with
// dropped keys; and the memory figures the stages and the planner use shrink to match.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <span>

#include "model/cost_profile.h"
#include "model/frame_cost.h"
#include "model/generation.h"
#include "model/gguf.h"
#include "model/kv_cache.h"
#include "model/local_backend.h"
#include "model/model.h"
#include "model/synth_gemma.h"
#include "tensor/thread_pool.h"
#include "test_models.h"

namespace baton {
namespace {

struct GemmaCase {
  Architecture arch;
  const char* size;
};
const GemmaCase kCases[] = {{Architecture::Gemma2, "tiny"}, {Architecture::Gemma3, "tiny6"}};

std::string model_path(const GemmaCase& c) {
  SynthOptions o = test::tiny_synth(c.arch, DType::F32);
  o.size = c.size;
  return test::synth_model_path(o);
}

// Token ids away from the control tokens at the start of the vocabulary.
std::vector<int32_t> tokens_of(int n, int vocab, int salt) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<size_t>(i)] = 16 + (i * 131 + 17 + salt * 29) % (vocab - 16);
  return t;
}

int32_t argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Runs `tokens` at pos0 through a stage list over one cache per stage and returns the
// logits of every row; the whole model is the list of one.
class Runner {
 public:
  Runner(const std::string& path, std::vector<int> cuts, DType kv_dtype, int64_t context, bool windowed,
         ThreadPool* pool)
      : pool_(pool) {
    auto whole = Model::open(path, {});
    hp_ = whole->hparams();
    bounds_ = {0};
    bounds_.insert(bounds_.end(), cuts.begin(), cuts.end());
    bounds_.push_back(hp_.n_layers);
    for (size_t s = 0; s + 1 < bounds_.size(); ++s) {
      ModelOpenOptions o;
      o.range = LayerRange{bounds_[s], bounds_[s + 1]};
      o.with_embedding = s == 0;
      o.with_head = s + 2 == bounds_.size();
      o.with_tokenizer = false;
      stages_.push_back(Model::open(path, o));
      caches_.push_back(std::make_unique<KVCache>(kv_dtype, *o.range, context, hp_.kv_dim(),
                                                  windowed ? hp_.sliding_windows() : SlidingWindows{}));
    }
  }

  std::vector<float> forward(std::span<const int32_t> tokens, int64_t pos0) {
    const auto n = static_cast<int64_t>(tokens.size());
    for (auto& kv : caches_) {
      if (pos0 < kv->size()) kv->set_size(pos0);
    }
    std::vector<float> hidden(static_cast<size_t>(n * hp_.dim));
    stages_.front()->transformer().embed(tokens, hidden.data());
    for (size_t s = 0; s < stages_.size(); ++s) {
      stages_[s]->transformer().forward_layers(bounds_[s], bounds_[s + 1], hidden.data(), n, pos0, *caches_[s], pool_);
    }
    std::vector<float> logits(static_cast<size_t>(n * hp_.vocab_size));
    stages_.back()->transformer().head(hidden.data(), n, logits.data(), pool_);
    return logits;
  }

  // Logits of the last row only.
  std::vector<float> last(std::span<const int32_t> tokens, int64_t pos0) {
    std::vector<float> all = forward(tokens, pos0);
    return {all.end() - hp_.vocab_size, all.end()};
  }

  const HyperParams& hparams() const { return hp_; }
  KVCache& cache(size_t s) { return *caches_[s]; }
  uint64_t bytes() const {
    uint64_t b = 0;
    for (const auto& kv : caches_) b += kv->bytes_allocated();
    return b;
  }

 private:
  ThreadPool* pool_;
  HyperParams hp_;
  std::vector<int> bounds_;
  std::vector<std::unique_ptr<Model>> stages_;
  std::vector<std::unique_ptr<KVCache>> caches_;
};

constexpr int64_t kContext = 512;

// A prompt in chunks of 100 (wider than the 64 positions a sliding layer takes per write,
// and than the window), then a greedy continuation one token at a time: every row's
// logits, and the continuation.
struct Trace {
  std::vector<std::vector<float>> logits;
  std::vector<int32_t> continuation;
};
Trace prompt_and_greedy(Runner& r, const std::vector<int32_t>& prompt, int steps) {
  Trace t;
  int64_t pos = 0;
  for (size_t i = 0; i < prompt.size(); i += 100) {
    const size_t n = std::min<size_t>(100, prompt.size() - i);
    std::vector<float> all = r.forward(std::span(prompt).subspan(i, n), pos);
    const auto vocab = static_cast<size_t>(r.hparams().vocab_size);
    for (size_t row = 0; row < n; ++row) t.logits.emplace_back(all.begin() + row * vocab, all.begin() + (row + 1) * vocab);
    pos += static_cast<int64_t>(n);
  }
  int32_t next = argmax(t.logits.back());
  for (int s = 0; s < steps; ++s) {
    t.continuation.push_back(next);
    t.logits.push_back(r.last(std::span(&next, 1), pos++));
    next = argmax(t.logits.back());
  }
  return t;
}

TEST(SlidingKV, WindowedCachesEqualFullCachesBitForBit) {
  ThreadPool pool(2);
  for (const GemmaCase& c : kCases) {
    const std::string path = model_path(c);
    for (DType kv : {DType::F32, DType::F16, DType::Q8_0}) {
      SCOPED_TRACE(fmt::format("{} kv {}", architecture_name(c.arch), dtype_name(kv)));
      Runner full(path, {}, kv, kContext, false, &pool);
      Runner windowed(path, {}, kv, kContext, true, &pool);
      const HyperParams& hp = full.hparams();
      ASSERT_EQ(hp.gemma.sliding_window, kSynthSlidingWindow);
      const auto prompt = tokens_of(250, hp.vocab_size, 1);
      const Trace want = prompt_and_greedy(full, prompt, 200);
      const Trace got = prompt_and_greedy(windowed, prompt, 200);
      ASSERT_EQ(got.logits.size(), want.logits.size());
      for (size_t i = 0; i < want.logits.size(); ++i) {
        ASSERT_TRUE(bit_equal(got.logits[i], want.logits[i])) << "row " << i;
      }
      EXPECT_EQ(got.continuation, want.continuation);
      EXPECT_LT(windowed.bytes(), full.bytes());
    }
  }
}

// The comparison above can fail: the same sequence with a window one position narrower
// gives other logits (the window matters on it), and a cache that kept too little refuses
// to compute rather than read rows it no longer has.
TEST(SlidingKV, TheComparisonSeesTheWindow) {
  ThreadPool pool(2);
  const std::string path = model_path(kCases[1]);
  auto model = Model::open(path, {});
  HyperParams narrow = model->hparams();
  narrow.gemma.sliding_window -= 1;
  const Transformer narrow_tf(narrow, model->weights());
  const HyperParams& hp = model->hparams();
  const auto tokens = tokens_of(40, hp.vocab_size, 2);
  auto logits = [&](const Transformer& tf) {
    KVCache kv(DType::F32, {0, hp.n_layers}, kContext, hp.kv_dim());
    std::vector<float> hidden(tokens.size() * static_cast<size_t>(hp.dim));
    tf.embed(tokens, hidden.data());
    tf.forward_layers(0, hp.n_layers, hidden.data(), static_cast<int64_t>(tokens.size()), 0, kv, &pool);
    std::vector<float> out(static_cast<size_t>(hp.vocab_size));
    tf.head(hidden.data() + (tokens.size() - 1) * static_cast<size_t>(hp.dim), 1, out.data(), &pool);
    return out;
  };
  EXPECT_FALSE(bit_equal(logits(narrow_tf), logits(model->transformer())));

  // A view that starts after a position the queries see is refused.
  KVCache kv(DType::F32, {0, hp.n_layers}, kContext, hp.kv_dim(), hp.sliding_windows());
  KVLayerView view = kv.layer(0);
  view.first_position = 1;
  std::vector<float> q(static_cast<size_t>(hp.q_dim())), out(q.size());
  AttentionShape shape{hp.n_heads, hp.n_kv_heads, hp.head_dim};
  shape.window = hp.gemma.sliding_window;
  EXPECT_THROW(attention(q.data(), 1, 3, view, shape, out.data(), nullptr), std::out_of_range);
}

// Speculative decoding appends a token and its drafts, then rolls the rejected ones back.
// Steps of 33 rows (the last token and 32 drafts, the most a step carries) cross slides;
// rolling back any number of them continues exactly as the full cache does.
TEST(SlidingKV, RollbackOfRejectedDraftsAcrossSlides) {
  ThreadPool pool(2);
  for (const GemmaCase& c : kCases) {
    SCOPED_TRACE(architecture_name(c.arch));
    const std::string path = model_path(c);
    Runner full(path, {}, DType::F16, kContext, false, &pool);
    Runner windowed(path, {}, DType::F16, kContext, true, &pool);
    const int vocab = full.hparams().vocab_size;
    const auto prompt = tokens_of(150, vocab, 3);
    ASSERT_TRUE(bit_equal(windowed.last(prompt, 0), full.last(prompt, 0)));
    int64_t pos = static_cast<int64_t>(prompt.size());
    for (int step = 0; step < 12; ++step) {
      const auto rows = tokens_of(33, vocab, 10 + step);
      const std::vector<float> want = full.forward(rows, pos);
      ASSERT_TRUE(bit_equal(windowed.forward(rows, pos), want)) << "step " << step;
      // Accept 0..32 drafts: the next step starts after the last accepted one.
      pos += 1 + (step * 7) % 33;
    }
    // Going back the most a step may reject (and up to kSlidingRollback) still works...
    const int64_t high = windowed.cache(0).size();
    const auto tail = tokens_of(5, vocab, 99);
    EXPECT_EQ(windowed.cache(0).reusable_prefix(high - kSlidingRollback), high - kSlidingRollback);
    ASSERT_TRUE(bit_equal(windowed.forward(tail, high - kSlidingRollback), full.forward(tail, high - kSlidingRollback)));
  }
}

// Going back further than the rows kept is refused, naming what can be done, and
// reusable_prefix says so beforehand (0: start again).
TEST(SlidingKV, RollbackPastDroppedKeysIsRefused) {
  const std::string path = model_path(kCases[0]);
  ThreadPool pool(2);
  Runner windowed(path, {}, DType::F16, kContext, true, &pool);
  const auto tokens = tokens_of(300, windowed.hparams().vocab_size, 4);
  windowed.forward(tokens, 0);
  KVCache& kv = windowed.cache(0);
  const int64_t too_far = 300 - kSlidingRollback - 1;
  EXPECT_EQ(kv.reusable_prefix(too_far), 0);
  EXPECT_EQ(kv.reusable_prefix(300 - kSlidingRollback), 300 - kSlidingRollback);
  try {
    kv.set_size(too_far);
    FAIL() << "rolled back past dropped keys";
  } catch (const std::out_of_range& e) {
    EXPECT_NE(std::string(e.what()).find("cannot go back to 235 positions"), std::string::npos) << e.what();
  }
  EXPECT_EQ(kv.size(), 300);
  kv.set_size(0);  // starting again always works
  EXPECT_EQ(kv.reusable_prefix(0), 0);

  // A cache that never slid (a short sequence, or a context within the rows) keeps all.
  Runner short_run(path, {}, DType::F16, kContext, true, &pool);
  short_run.forward(std::span(tokens).subspan(0, 100), 0);
  EXPECT_EQ(short_run.cache(0).reusable_prefix(7), 7);
}

// Pipeline stages, each with its own windowed caches, equal the whole model with full
// caches, prompt and greedy continuation.
TEST(SlidingKV, SplitStagesEqualOneNode) {
  ThreadPool pool(2);
  const std::vector<std::pair<GemmaCase, std::vector<int>>> splits = {{kCases[0], {1}}, {kCases[1], {3}},
                                                                      {kCases[1], {1, 5}}};
  for (const auto& [c, cuts] : splits) {
    SCOPED_TRACE(fmt::format("{} cut at {}", architecture_name(c.arch), cuts.front()));
    const std::string path = model_path(c);
    Runner full(path, {}, DType::F16, kContext, false, &pool);
    Runner split(path, cuts, DType::F16, kContext, true, &pool);
    const auto prompt = tokens_of(220, full.hparams().vocab_size, 5);
    const Trace want = prompt_and_greedy(full, prompt, 120);
    const Trace got = prompt_and_greedy(split, prompt, 120);
    ASSERT_EQ(got.logits.size(), want.logits.size());
    for (size_t i = 0; i < want.logits.size(); ++i) ASSERT_TRUE(bit_equal(got.logits[i], want.logits[i])) << "row " << i;
  }
}

class SlidingGeneration : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { model_ = Model::open(model_path(kCases[GetParam()]), {}); }
  static GenerationParams greedy(int n) {
    GenerationParams p;
    p.max_tokens = n;
    p.sampling.temperature = 0;
    p.sampling.repeat_penalty = 1.0f;
    return p;
  }
  std::vector<int32_t> generate(Generator& gen, const std::vector<int32_t>& input, const GenerationParams& p,
                                GenerationResult* result = nullptr) {
    std::vector<int32_t> ids;
    GenerationCallbacks cb;
    cb.on_token = [&](int32_t id, const std::string&) {
      if (id >= 0) ids.push_back(id);
    };
    GenerationResult r = gen.generate(input, p, cb);
    if (result) *result = r;
    return ids;
  }
  std::unique_ptr<Model> model_;
  ThreadPool pool_{2};
};

// A follow-up that shares a prefix the windowed layers still hold reuses it; one that
// goes back further recomputes from the start. Either way the tokens are those of a fresh
// generation.
TEST_P(SlidingGeneration, PromptCacheReusesWhatTheWindowsStillHold) {
  const int vocab = model_->hparams().vocab_size;
  const auto first = tokens_of(260, vocab, 6);
  LocalBackend backend(model_->transformer(), DType::F16, kContext, &pool_);
  Generator gen(backend, model_->tokenizer());
  generate(gen, first, greedy(1));
  const int64_t held = backend.kv_cache().size();
  ASSERT_GE(held, 260);

  auto fresh = [&](const std::vector<int32_t>& input) {
    LocalBackend b(model_->transformer(), DType::F16, kContext, &pool_);
    Generator g(b, model_->tokenizer());
    return generate(g, input, greedy(60));
  };
  // Shares 250 positions: within kSlidingRollback of the 260 held.
  std::vector<int32_t> near(first.begin(), first.begin() + 250);
  for (int32_t t : tokens_of(20, vocab, 7)) near.push_back(t);
  GenerationResult r;
  EXPECT_EQ(generate(gen, near, greedy(60), &r), fresh(near));
  EXPECT_EQ(r.reused_tokens, 250);

  // Shares 100 positions with what is now held (more than 200): those keys are gone.
  std::vector<int32_t> far(near.begin(), near.begin() + 100);
  for (int32_t t : tokens_of(30, vocab, 8)) far.push_back(t);
  EXPECT_EQ(generate(gen, far, greedy(60), &r), fresh(far));
  EXPECT_EQ(r.reused_tokens, 0);
}

// Speculative decoding with drafts of up to 32 tokens taken from the plain greedy
// continuation with one token spoiled at a varying place: each step accepts some drafts
// and rolls the rest back, across slides, and the tokens are those of plain decoding.
TEST_P(SlidingGeneration, SpeculativeDecodingEqualsPlainDecoding) {
  const int vocab = model_->hparams().vocab_size;
  const auto prompt = tokens_of(150, vocab, 9);
  auto run = [&](const std::vector<int32_t>* plain, GenerationResult* r) {
    LocalBackend b(model_->transformer(), DType::F16, kContext, &pool_);
    Generator g(b, model_->tokenizer());
    GenerationParams p = greedy(200);
    p.prefill_chunk = 100;
    if (plain) {
      p.speculation.enabled = true;
      p.speculation.max_draft = 32;
      p.drafter = [&, plain](std::span<const int32_t> context, int32_t k, const SamplingRequest&) {
        // context ends with the token about to be fed, plain[at - 1].
        const size_t at = context.size() - prompt.size();
        Draft d;
        for (size_t i = at; i < plain->size() && d.tokens.size() < static_cast<size_t>(k); ++i) {
          d.tokens.push_back((*plain)[i]);
        }
        if (!d.tokens.empty()) {
          int32_t& spoiled = d.tokens[at % d.tokens.size()];
          spoiled = 16 + (spoiled + 1 - 16) % (vocab - 16);
        }
        return d;
      };
    }
    return generate(g, prompt, p, r);
  };
  GenerationResult plain_result, spec;
  const auto want = run(nullptr, &plain_result);
  ASSERT_GT(want.size(), 40u) << "the greedy continuation ended early";
  const auto got = run(&want, &spec);
  EXPECT_EQ(got, want);
  EXPECT_GT(spec.accepted_tokens, 0);
  EXPECT_LT(spec.accepted_tokens, spec.drafted_tokens);
  std::printf("%s: %d tokens, %d verify steps, %d drafted, %d accepted\n",
              architecture_name(model_->hparams().arch).c_str(), spec.completion_tokens, spec.verify_steps,
              spec.drafted_tokens, spec.accepted_tokens);
}

INSTANTIATE_TEST_SUITE_P(Gemma, SlidingGeneration, ::testing::Values(0, 1),
                         [](const auto& info) { return architecture_name(kCases[info.param].arch); });

// The memory a stage reserves and the planner counts: sliding layers hold their rows, not
// the context. Gemma 3 4B's shape at a 32k context: 34 layers, every sixth global, window
// 1024, 4 KV heads of 256, f16.
TEST(SlidingKV, MemoryFiguresCountTheWindowsRows) {
  SlidingWindows w;
  w.window = 1024;
  for (int il = 0; il < 34; ++il) w.sliding.push_back(il % 6 != 5);
  const int64_t ctx = 32768;
  const int64_t rows_sliding = 1024 - 1 + kSlidingRollback + kSlidingHeadroom;
  const uint64_t row = 2 * 1024;  // 4 x 256 f16 values
  const uint64_t full = 2ull * 34 * ctx * row;
  const uint64_t windowed = 2ull * (5 * ctx + 29 * rows_sliding) * row;
  EXPECT_EQ(KVCache::bytes_for(DType::F16, 34, ctx, 1024), full);
  EXPECT_EQ(KVCache::bytes_for(DType::F16, LayerRange{0, 34}, ctx, 1024, w), windowed);
  std::printf("gemma3-4b shape, 32k context, f16 KV: %.1f MiB full, %.1f MiB with windowed layers\n",
              static_cast<double>(full) / (1 << 20), static_cast<double>(windowed) / (1 << 20));
  // A stage of the second half holds its own layers' share.
  EXPECT_EQ(KVCache::bytes_for(DType::F16, LayerRange{17, 34}, ctx, 1024, w),
            2ull * (3 * ctx + 14 * rows_sliding) * row);

  // The synthesised files: the cost profile reads the windows, the cache allocates what it
  // says, and a context within the rows keeps everything.
  for (const GemmaCase& c : kCases) {
    const std::string path = model_path(c);
    auto model = Model::open(path, {});
    const HyperParams& hp = model->hparams();
    const ModelCostProfile profile = cost_profile_from_gguf(GgufFile::open(path));
    EXPECT_EQ(profile.sliding.window, hp.gemma.sliding_window);
    EXPECT_EQ(profile.sliding.sliding, hp.gemma.sliding);
    for (int64_t context : {int64_t{64}, int64_t{4096}}) {
      const KVCache kv(DType::F16, {0, hp.n_layers}, context, hp.kv_dim(), hp.sliding_windows());
      EXPECT_EQ(kv.bytes_allocated(), KVCache::bytes_for(DType::F16, {0, hp.n_layers}, context, hp.kv_dim(),
                                                         hp.sliding_windows()));
      EXPECT_DOUBLE_EQ(profile.kv_bytes(0, hp.n_layers, context, DType::F16), static_cast<double>(kv.bytes_allocated()));
      int64_t rows = 0;
      for (int il = 0; il < hp.n_layers; ++il) {
        rows += hp.gemma.is_sliding(il) ? std::min<int64_t>(context, kSynthSlidingWindow - 1 + kSlidingRollback + kSlidingHeadroom)
                                        : context;
      }
      EXPECT_EQ(kv.bytes_allocated(), 2ull * static_cast<uint64_t>(rows) * row_bytes(DType::F16, hp.kv_dim()));
    }
  }
}

// The time a frame is predicted to take: a sliding layer's attention visits at most
// window - 1 earlier positions per row and reads that many K/V rows, a global one all of them.
TEST(SlidingKV, FrameCostCountsTheWindowNotTheContext) {
  StageWork s;
  s.layers = 2;
  s.sliding_layers = 1;
  s.window = 5;
  s.attention_flops_per_position = 10;
  s.kv_bytes_per_position = 100;
  // One row at position 100: 100 positions in the global layer, 4 in the sliding one.
  FrameShape decode{1, 0, 100};
  EXPECT_DOUBLE_EQ(frame_work(s, decode).flops, 10.0 * (100 + 4));
  EXPECT_DOUBLE_EQ(frame_work(s, decode).bytes, 100.0 * (100 + 4));
  // Three rows from position 2: 2 + 3 + 4 visited in each layer (the window caps at 4).
  FrameShape prefill{3, 0, 2};
  EXPECT_DOUBLE_EQ(frame_work(s, prefill).flops, 10.0 * (9 + 9));
  // Without the window both layers visit everything.
  s.sliding_layers = 0;
  EXPECT_DOUBLE_EQ(frame_work(s, decode).flops, 10.0 * (100 + 100));
}

}  // namespace
}  // namespace baton
