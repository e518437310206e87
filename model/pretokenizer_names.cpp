// tokenizer.ggml.pre names: which pre-tokenizer each selects, with the settings llama.cpp
// ties to the name.
#include <string>
#include <string_view>

#include "model/pretokenizer.h"

namespace baton {

namespace {

struct NamedPreTokenizer {
  std::string_view name;
  PreTokenizerSpec spec;
};

// llama.cpp's table (llama_vocab::impl::load), restricted to the patterns implemented here;
// names llama.cpp maps onto one pattern map onto the same one here (its aliases). Names
// whose llama.cpp entry also changes something baton does not model are left out, so that
// they are refused rather than half-supported: a separator token after the text
// (jina-v1-en, jina-v2-code, roberta-bpe), raw UTF-8 instead of byte characters with
// spaces as U+2581 (gemma4, sarvam-moe, granite-embed-multi-311m), dropping whitespace
// (whitespace), and Chameleon's image and sentinel tokens (chameleon).
// tests/model/data/pretokenizer-reference.json has llama.cpp's pieces for every name.
constexpr NamedPreTokenizer kNames[] = {
    {"default", {PreTokenizer::Gpt2}},
    {"gpt2", {PreTokenizer::Gpt2}},
    {"gpt-2", {PreTokenizer::Gpt2}},
    {"gpt-neox", {PreTokenizer::Gpt2}},
    {"mpt", {PreTokenizer::Gpt2}},
    {"phi-2", {PreTokenizer::Gpt2}},
    {"olmo", {PreTokenizer::Gpt2}},
    {"jais", {PreTokenizer::Gpt2}},
    {"trillion", {PreTokenizer::Gpt2}},
    {"granite-docling", {PreTokenizer::Gpt2}},
    {"exaone4", {PreTokenizer::Gpt2}},
    {"gigachat", {PreTokenizer::Gpt2}},
    {"a.x-4.0", {PreTokenizer::Gpt2}},
    {"mellum", {PreTokenizer::Gpt2}},
    {"jina-es", {PreTokenizer::Gpt2}},
    {"jina-de", {PreTokenizer::Gpt2}},
    {"jina-v2-es", {PreTokenizer::Gpt2}},
    {"jina-v2-de", {PreTokenizer::Gpt2}},
    {"modern-bert", {PreTokenizer::Gpt2}},
    {"llama-bpe", {PreTokenizer::Llama3, true, true}},
    {"llama3", {PreTokenizer::Llama3, true, true}},
    {"llama-v3", {PreTokenizer::Llama3, true, true}},
    {"falcon3", {PreTokenizer::Llama3, true, true}},
    {"falcon-h1", {PreTokenizer::Llama3, true, true}},
    {"pixtral", {PreTokenizer::Llama3, true, true}},
    {"midm-2.0", {PreTokenizer::Llama3, true, true}},
    {"lfm2", {PreTokenizer::Llama3, true, true}},
    {"jina-v5-nano", {PreTokenizer::Llama3, true, true}},
    {"dbrx", {PreTokenizer::Llama3}},
    {"smaug-bpe", {PreTokenizer::Llama3}},
    {"glm4", {PreTokenizer::Llama3}},
    {"chatglm-bpe", {PreTokenizer::Llama3}},
    {"qwen2", {PreTokenizer::Qwen2}},
    {"deepseek-r1-qwen", {PreTokenizer::Qwen2}},
    {"kormo", {PreTokenizer::Qwen2}},
    {"f2llmv2", {PreTokenizer::Qwen2}},
    {"megrez", {PreTokenizer::Qwen2}},
    {"stablelm2", {PreTokenizer::Qwen2}},
    {"hunyuan", {PreTokenizer::Qwen2}},
    {"solar-open", {PreTokenizer::Qwen2}},
    // Qwen2's pattern written with '(?:[sSdDmMtT]|...)' or as Grok 2's tokenizer.json has it.
    {"bailingmoe", {PreTokenizer::Qwen2}},
    {"bailingmoe2", {PreTokenizer::Qwen2}},
    {"llada-moe", {PreTokenizer::Qwen2}},
    {"grok-2", {PreTokenizer::Qwen2}},
    {"qwen35", {PreTokenizer::Qwen35}},
    {"seed-coder", {PreTokenizer::SeedCoder}},
    {"ufakzeka", {PreTokenizer::Ufakzeka}},
    {"laguna", {PreTokenizer::Laguna}},
    {"minicpm5", {PreTokenizer::MiniCpm5, true}},
    {"jais-2", {PreTokenizer::Jais2}},
    {"starcoder", {PreTokenizer::StarCoder}},
    {"refact", {PreTokenizer::StarCoder}},
    {"smollm", {PreTokenizer::StarCoder}},
    {"command-r", {PreTokenizer::StarCoder}},
    {"codeshell", {PreTokenizer::StarCoder}},
    {"exaone", {PreTokenizer::StarCoder}},
    {"minerva-7b", {PreTokenizer::StarCoder}},
    {"mellum2", {PreTokenizer::StarCoder}},
    {"falcon", {PreTokenizer::Falcon}},
    {"deepseek-llm", {PreTokenizer::DeepSeekLlm}},
    {"deepseek-coder", {PreTokenizer::DeepSeekCoder}},
    {"deepseek-v3", {PreTokenizer::DeepSeekV3}},
    {"hunyuan-dense", {PreTokenizer::DeepSeekV3}},
    {"hy_v4", {PreTokenizer::DeepSeekV3}},
    {"joyai-llm", {PreTokenizer::DeepSeekV3}},
    {"spark2_5", {PreTokenizer::Spark25}},
    {"afmoe", {PreTokenizer::Afmoe}},
    {"gpt-4o", {PreTokenizer::Gpt4o}},
    {"llama4", {PreTokenizer::Gpt4o}},
    {"kanana2", {PreTokenizer::Gpt4o}},
    {"talkie", {PreTokenizer::Gpt4o}},
    {"minimax-m2", {PreTokenizer::Gpt4o}},
    {"tekken", {PreTokenizer::Tekken, true, true}},
    {"youtu", {PreTokenizer::Youtu, true}},
    {"tiny_aya", {PreTokenizer::TinyAya}},
    {"cohere2moe", {PreTokenizer::TinyAya}},
    {"granite-embed-multi-97m", {PreTokenizer::GraniteEmbedMulti, true}},
    {"kimi-k2", {PreTokenizer::KimiK2}},
    {"superbpe", {PreTokenizer::SuperBpe}},
    {"bloom", {PreTokenizer::Bloom}},
    {"poro-chat", {PreTokenizer::Bloom}},
    {"gpt3-finnish", {PreTokenizer::Bloom}},
    {"viking", {PreTokenizer::Viking}},
    {"exaone-moe", {PreTokenizer::ExaoneMoe}},
};

}  // namespace

std::optional<PreTokenizerSpec> find_pre_tokenizer(std::string_view name) {
  for (const NamedPreTokenizer& n : kNames) {
    if (n.name == name) return n.spec;
  }
  return std::nullopt;
}

std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name) {
  const auto spec = find_pre_tokenizer(name);
  if (!spec) return std::nullopt;
  return spec->kind;
}

std::string supported_pre_tokenizer_names() {
  std::string out;
  for (const NamedPreTokenizer& n : kNames) {
    if (!out.empty()) out += ", ";
    out += n.name;
  }
  return out;
}

}  // namespace baton
