// The engine against an implementation it did not write: the shipped trained model's
// logits and greedy continuation as computed by PyTorch (float64, weights exactly as
// stored in each GGUF), and its tokenizer against the SentencePiece library. Reference
// data: models/<name>.ref.json, written by tools/train/make_reference.py.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "model/chat_template.h"
#include "model/prompt.h"
#include "model/local_backend.h"
#include "model/model.h"
#include "model/sampler.h"
#include "tensor/thread_pool.h"

namespace baton {
namespace {

const std::filesystem::path kModels = std::filesystem::path(BATON_SOURCE_DIR) / "models";
constexpr const char* kName = "baton-kjv-5m";

nlohmann::json load_reference() {
  std::ifstream in(kModels / (std::string(kName) + ".ref.json"));
  EXPECT_TRUE(in) << "the shipped model's reference file is missing";
  return nlohmann::json::parse(in);
}

// All prompt rows' logits from baton: embed, all layers, head of every row.
std::vector<float> prompt_logits(const Model& m, const std::vector<int32_t>& ids, ThreadPool* pool) {
  const HyperParams& hp = m.hparams();
  KVCache kv(DType::F32, {0, hp.n_layers}, static_cast<int64_t>(ids.size()) + 1, hp.kv_dim());
  std::vector<float> hidden(ids.size() * static_cast<size_t>(hp.dim));
  m.transformer().embed(ids, hidden.data());
  m.transformer().forward_layers(0, hp.n_layers, hidden.data(), static_cast<int64_t>(ids.size()), 0, kv, pool);
  std::vector<float> logits(ids.size() * static_cast<size_t>(hp.vocab_size));
  m.transformer().head(hidden.data(), static_cast<int64_t>(ids.size()), logits.data(), pool);
  return logits;
}

class ReferenceModel : public ::testing::TestWithParam<std::string> {};

// Largest |baton - torch| allowed on a logit (logits span about -14..10). Fixed here, about
// 1.5x the worst deviation measured over all prompt rows and greedy steps with each kernel
// table (scalar, AVX2, AVX-512 VNNI; this test prints the figures):
//   f32   5.24e-5: float32 against float64 arithmetic;
//   q8_0  0.0783 and q4_0 0.0529: activations quantised to Q8_0 for the integer dot products,
//         as baton and llama.cpp do (torch multiplies the dequantised weights in float64).
// Before: 2x the reference script's own estimate + 1e-4 (1.2e-4, 0.120, 0.141).
double tolerance(const std::string& variant) {
  if (variant == "f32") return 8e-5;
  if (variant == "q8_0") return 0.12;
  return 0.08;  // q4_0
}

TEST_P(ReferenceModel, LogitsAndGreedyContinuationMatchTorch) {
  const std::string variant_name = GetParam();
  const auto ref = load_reference();
  const auto& v = ref["variants"][variant_name];
  auto model = Model::open((kModels / v["file"].get<std::string>()).string(), {});
  ThreadPool pool(2);
  const auto ids = ref["prompt"]["ids"].get<std::vector<int32_t>>();
  const int vocab = model->hparams().vocab_size;
  const double tol = tolerance(variant_name);
  const auto logits = prompt_logits(*model, ids, &pool);

  double worst = 0;
  if (v.contains("prompt_logits")) {
    const auto& rows = v["prompt_logits"];
    ASSERT_EQ(rows.size(), ids.size());
    for (size_t t = 0; t < ids.size(); ++t) {
      for (int i = 0; i < vocab; ++i) {
        worst = std::max(worst, std::fabs(double(logits[t * vocab + static_cast<size_t>(i)]) - rows[t][static_cast<size_t>(i)].get<double>()));
      }
    }
  }
  for (size_t t = 0; t < ids.size(); ++t) {  // top-32 of every position, all variants
    for (const auto& pair : v["prompt_top"][t]) {
      const int id = pair[0];
      worst = std::max(worst, std::fabs(double(logits[t * vocab + static_cast<size_t>(id)]) - pair[1].get<double>()));
    }
  }
  std::printf("%s: max |logit - torch| = %.3g (tolerance %.3g)\n", variant_name.c_str(), worst, tol);
  EXPECT_LE(worst, tol);

  // Greedy continuation through the KV cache; compare every step whose top-2 margin is
  // clearly above the tolerance (a near-tie may legitimately go either way).
  LocalBackend backend(model->transformer(), DType::F32, static_cast<int64_t>(ids.size()) + 32, &pool);
  std::vector<float> last = backend.forward(ids, 0);
  int64_t pos = static_cast<int64_t>(ids.size());
  int compared = 0;
  int skipped = 0, step_index = 0;
  double worst_step = 0;
  for (const auto& step : v["greedy"]["steps"]) {
    const int32_t want = step["token"];
    if (step["margin"].get<double>() > 2 * tol) {
      EXPECT_EQ(argmax(last), want) << variant_name << " greedy step " << step_index;
      ++compared;
    } else {
      ++skipped;  // a near-tie may legitimately go either way; the reference's token is fed on
    }
    const int32_t one[1] = {want};
    last = backend.forward(one, pos++);
    for (const auto& pair : step["next_top"]) {
      const int id = pair[0];
      const double d = std::fabs(double(last[static_cast<size_t>(id)]) - pair[1].get<double>());
      worst_step = std::max(worst_step, d);
      EXPECT_LE(d, tol) << "step " << step_index << " token " << id;
    }
    ++step_index;
  }
  std::printf("%s: greedy steps %d compared, %d near-ties skipped; max |logit - torch| over the steps %.3g\n",
              variant_name.c_str(), compared, skipped, worst_step);
  EXPECT_GE(compared, 12) << "too few clear greedy steps to compare";
}

INSTANTIATE_TEST_SUITE_P(ShippedVariants, ReferenceModel, ::testing::Values("f32", "q8_0", "q4_0"),
                         [](const auto& info) { return info.param; });

TEST(ReferenceModel, TokenizerMatchesSentencePiece) {
  const auto ref = load_reference();
  auto model = Model::open((kModels / ref["variants"]["q8_0"]["file"].get<std::string>()).string(), {});
  const Tokenizer& tok = model->tokenizer();
  EXPECT_EQ(tok.encode(ref["prompt"]["text"].get<std::string>(), true, false),
            ref["prompt"]["ids"].get<std::vector<int32_t>>());
  for (const auto& c : ref["tokenizer"]["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(tok.encode(text, false, c["parse_special"].get<bool>()), c["ids"].get<std::vector<int32_t>>())
        << "text: '" << text << "'";
  }
  const auto& chat = ref["chat"];
  std::vector<ChatMessage> messages;
  for (const auto& m : chat["messages"]) messages.push_back({m["role"], m["content"]});
  const ChatTemplateKind kind = detect_chat_template(model->chat_template_source());
  EXPECT_EQ(kind, ChatTemplateKind::ChatML);
  const std::string rendered = render_chat(kind, messages, true);
  EXPECT_EQ(rendered, chat["rendered"].get<std::string>());
  EXPECT_EQ(tok.encode(rendered, true, true), chat["ids_with_bos"].get<std::vector<int32_t>>());
  // What every front door does (template markers as control tokens, message text as text)
  // gives the reference's ids for an ordinary conversation.
  EXPECT_EQ(encode_chat(tok, kind, messages, true), chat["ids_with_bos"].get<std::vector<int32_t>>());
}

}  // namespace
}  // namespace baton
