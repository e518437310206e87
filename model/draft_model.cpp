#include "model/draft_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "model/model.h"
#include "model/tokenizer.h"

namespace baton {

namespace {

constexpr int64_t kChunk = 64;  // prompt rows per forward of the draft model

// The draft's own generator: independent of the request's (which the verifying side
// continues), reproducible for a seed and a position.
uint64_t draft_seed(uint64_t seed, size_t position) { return seed ^ (0x9E3779B97F4A7C15ull * (position + 1)); }

// The draft model's distribution for one position, truncated to its most likely tokens.
DraftDistribution truncated_distribution(std::vector<TokenProbability> p) {
  if (p.size() > kMaxDraftSupport) {
    std::partial_sort(p.begin(), p.begin() + kMaxDraftSupport, p.end(),
                      [](const TokenProbability& a, const TokenProbability& b) { return a.p > b.p || (a.p == b.p && a.id < b.id); });
    p.resize(kMaxDraftSupport);
  }
  double total = 0;
  for (const TokenProbability& t : p) total += t.p;
  DraftDistribution q;
  for (const TokenProbability& t : p) {
    q.ids.push_back(t.id);
    q.probs.push_back(static_cast<float>(t.p / total));
  }
  return q;
}

}  // namespace

void require_same_vocabulary(const Model& target, const Model& draft, const std::string& draft_name) {
  const std::vector<std::string>& a = target.tokenizer().vocabulary().tokens;
  const std::vector<std::string>& b = draft.tokenizer().vocabulary().tokens;
  if (a.size() != b.size()) {
    throw std::invalid_argument(fmt::format(
        "the draft model {} has a vocabulary of {} tokens but the model has {}: a draft model must use the same "
        "tokenizer as the model it drafts for",
        draft_name, b.size(), a.size()));
  }
  const auto differ = std::mismatch(a.begin(), a.end(), b.begin());
  if (differ.first != a.end()) {
    const auto id = differ.first - a.begin();
    throw std::invalid_argument(fmt::format(
        "the draft model {} has another vocabulary: token {} is '{}' there but '{}' in the model; a draft model must "
        "use the same tokenizer as the model it drafts for",
        draft_name, id, *differ.second, *differ.first));
  }
}

ModelDrafter::ModelDrafter(const Model& draft, int64_t context)
    : backend_(draft.transformer(), DType::F32, context, nullptr) {}

std::vector<float> ModelDrafter::logits_after(std::span<const int32_t> context) {
  // Keep the shared prefix, but recompute at least the last token: its logits are needed.
  size_t shared = 0;
  while (shared < cached_.size() && shared < context.size() && cached_[shared] == context[shared]) ++shared;
  shared = std::min(shared, context.size() - 1);
  shared = static_cast<size_t>(backend_.reusable_prefix(static_cast<int64_t>(shared)));
  cached_.resize(shared);
  backend_.truncate(static_cast<int64_t>(shared));
  std::vector<float> logits;
  for (size_t at = shared; at < context.size();) {
    const size_t n = std::min(static_cast<size_t>(kChunk), context.size() - at);
    logits = backend_.forward(context.subspan(at, n), static_cast<int64_t>(at));
    cached_.insert(cached_.end(), context.begin() + static_cast<std::ptrdiff_t>(at),
                   context.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
  }
  return logits;
}

Draft ModelDrafter::propose(std::span<const int32_t> context, int32_t k, const SamplingRequest& request) {
  Draft out;
  if (context.empty() || k <= 0) return out;
  // Each draft but the last is fed to get the next one's logits.
  const int64_t room = backend_.context_capacity() - static_cast<int64_t>(context.size()) + 1;
  k = static_cast<int32_t>(std::min<int64_t>(k, room));
  if (k <= 0) return out;
  const bool greedy = request.sampler.temperature <= 0.0f;
  Sampler chooser(request.sampler);  // penalties and bias as the target applies them
  std::vector<int32_t> seen(context.begin(), context.end());
  std::vector<float> logits = logits_after(context);
  for (int32_t i = 0; i < k; ++i) {
    int32_t x = 0;
    if (greedy) {
      x = chooser.sample(logits, seen);
    } else {
      DraftDistribution q = truncated_distribution(chooser.distribution(logits, seen));
      SamplerParams own = request.sampler;
      own.seed = draft_seed(request.sampler.seed, seen.size());
      Sampler draw(own);
      double u = draw.uniform01();
      x = q.ids.back();
      for (size_t j = 0; j < q.ids.size(); ++j) {
        if (u < q.probs[j]) {
          x = q.ids[j];
          break;
        }
        u -= q.probs[j];
      }
      out.q.push_back(std::move(q));
    }
    out.tokens.push_back(x);
    seen.push_back(x);
    if (i + 1 < k) {
      logits = backend_.forward(std::span(&x, 1), static_cast<int64_t>(cached_.size()));
      cached_.push_back(x);
    }
  }
  return out;
}

}  // namespace baton
