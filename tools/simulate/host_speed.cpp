#include "tools/simulate/host_speed.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "model/local_backend.h"
#include "model/model.h"
#include "model/sampler.h"
#include "tensor/thread_pool.h"
#include "tools/simulate/prediction.h"

namespace baton::sim {

namespace {

// A stage computes one token every few milliseconds and sleeps in between (other
// processes use the caches meanwhile); tokens are timed the same way, not back to back.
constexpr auto kPauseBetweenTokens = std::chrono::milliseconds(2);
constexpr int kPasses = 5;

}  // namespace

HostSpeed measure_host_speed(const std::string& path, const ModelCostProfile& cost, int prompt_tokens, int decode_tokens) {
  using clock = std::chrono::steady_clock;
  ModelOpenOptions opt;
  opt.with_tokenizer = false;
  auto model = Model::open(path, opt);
  ThreadPool pool(1);
  const int vocab = model->hparams().vocab_size;
  LocalBackend backend(model->transformer(), DType::F16, prompt_tokens + decode_tokens + 8, &pool);
  std::vector<int32_t> prompt(static_cast<size_t>(std::max(prompt_tokens, 1)));
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 7919 + 13) % static_cast<size_t>(vocab));
  double best_s = 1e30, best_prompt_s = 1e30;
  for (int pass = 0; pass < kPasses; ++pass) {
    backend.truncate(0);
    std::this_thread::sleep_for(kPauseBetweenTokens);
    const auto p0 = clock::now();
    int32_t next = argmax(backend.forward(prompt, 0));
    best_prompt_s = std::min(best_prompt_s, std::chrono::duration<double>(clock::now() - p0).count());
    double pass_s = 0;
    for (int i = 0; i < decode_tokens; ++i) {
      std::this_thread::sleep_for(kPauseBetweenTokens);
      const int32_t one[1] = {next};
      const auto t0 = clock::now();
      next = argmax(backend.forward(one, static_cast<int64_t>(prompt.size()) + i));
      pass_s += std::chrono::duration<double>(clock::now() - t0).count();
    }
    best_s = std::min(best_s, pass_s);
  }
  const TokenWork work = token_work(cost, static_cast<double>(prompt.size()) + decode_tokens / 2.0);
  const TokenWork prompt_work = frame_flops(cost, static_cast<int>(prompt.size()));
  return {work.flops * decode_tokens / best_s / 1e9, prompt_work.flops / best_prompt_s / 1e9};
}

}  // namespace baton::sim
