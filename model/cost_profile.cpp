#include "model/cost_profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "model/gguf.h"

namespace baton {
namespace {

// Far beyond any real model (the largest have ~200 blocks), small enough that a hostile
// block_count cannot make us allocate much.
constexpr uint64_t kMaxBlocks = 1u << 14;
constexpr uint64_t kMaxHeads = 1u << 12;
constexpr uint64_t kMaxDim = 1u << 20;

// "blk.17.attn_q.weight" -> 17; nullopt for tensors outside the blocks.
std::optional<uint64_t> block_index(std::string_view name) {
  constexpr std::string_view prefix = "blk.";
  if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view rest = name.substr(prefix.size());
  const size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string_view::npos) return std::nullopt;
  uint64_t index = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + dot, index);
  if (ec != std::errc() || end != rest.data() + dot) return std::nullopt;
  return index;
}

uint64_t bounded_positive(const GgufFile& file, const std::string& key, uint64_t max) {
  const uint64_t value = file.get_u64(key);
  if (value == 0 || value > max) {
    throw GgufError(fmt::format("{}: {} = {} is outside [1, {}]", file.path(), key, value, max));
  }
  return value;
}

}  // namespace

double kv_bytes_per_element(DType kv_dtype) {
  switch (kv_dtype) {
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::Q8_0: {
      const DTypeInfo info = dtype_info(kv_dtype);
      return static_cast<double>(info.block_bytes) / static_cast<double>(info.block_elems);
    }
    default:
      throw std::invalid_argument(
          fmt::format("KV cache dtype {} is not supported (use f16, q8_0 or f32)", dtype_name(kv_dtype)));
  }
}

uint64_t ModelCostProfile::total_weight_bytes() const {
  const uint64_t layers = std::accumulate(layer_weight_bytes.begin(), layer_weight_bytes.end(), uint64_t{0});
  return layers + embed_bytes + head_bytes - tied_shared_bytes;
}

double ModelCostProfile::kv_bytes_per_token_per_layer(DType kv_dtype) const {
  return 2.0 * n_kv_heads * head_dim * kv_bytes_per_element(kv_dtype);
}

double ModelCostProfile::kv_bytes(int first, int last, int64_t ctx, DType kv_dtype) const {
  return kv_bytes_per_token_per_layer(kv_dtype) * static_cast<double>(sliding.rows(first, last, ctx));
}

double ModelCostProfile::attention_flops_per_position() const {
  return 4.0 * n_heads * head_dim;
}

std::string ModelCostProfile::validate() const {
  if (n_layers <= 0) return fmt::format("n_layers must be positive, is {}", n_layers);
  if (layer_weight_bytes.size() != static_cast<size_t>(n_layers)) {
    return fmt::format("layer_weight_bytes has {} entries, n_layers is {}", layer_weight_bytes.size(), n_layers);
  }
  if (layer_flops.size() != static_cast<size_t>(n_layers)) {
    return fmt::format("layer_flops has {} entries, n_layers is {}", layer_flops.size(), n_layers);
  }
  for (size_t i = 0; i < layer_flops.size(); ++i) {
    if (!(layer_flops[i] >= 0)) return fmt::format("layer_flops[{}] is {}", i, layer_flops[i]);
  }
  if (tied_shared_bytes > embed_bytes || tied_shared_bytes > head_bytes) {
    return fmt::format("tied_shared_bytes {} exceeds embed_bytes {} or head_bytes {}", tied_shared_bytes,
                       embed_bytes, head_bytes);
  }
  if (!(head_flops >= 0)) return fmt::format("head_flops is {}", head_flops);
  if (dim <= 0) return fmt::format("dim must be positive, is {}", dim);
  if (n_heads <= 0 || n_kv_heads <= 0 || head_dim <= 0) {
    return fmt::format("heads must be positive: n_heads {}, n_kv_heads {}, head_dim {}", n_heads, n_kv_heads,
                       head_dim);
  }
  if (vocab_size <= 0) return fmt::format("vocab_size must be positive, is {}", vocab_size);
  if (ctx_train < 0) return fmt::format("ctx_train must not be negative, is {}", ctx_train);
  return {};
}

ModelCostProfile cost_profile_from_gguf(const GgufFile& file) {
  ModelCostProfile profile;
  profile.architecture = file.get_string("general.architecture");
  const std::string p = profile.architecture + ".";

  const uint64_t blocks = bounded_positive(file, p + "block_count", kMaxBlocks);
  profile.n_layers = static_cast<int>(blocks);
  profile.dim = static_cast<int>(bounded_positive(file, p + "embedding_length", kMaxDim));
  profile.n_heads = static_cast<int>(bounded_positive(file, p + "attention.head_count", kMaxHeads));
  profile.n_kv_heads = file.find(p + "attention.head_count_kv")
                           ? static_cast<int>(bounded_positive(file, p + "attention.head_count_kv", kMaxHeads))
                           : profile.n_heads;
  if (file.find(p + "attention.key_length")) {
    profile.head_dim = static_cast<int>(bounded_positive(file, p + "attention.key_length", kMaxDim));
  } else {
    if (profile.dim % profile.n_heads != 0) {
      throw GgufError(fmt::format("{}: {}embedding_length {} is not a multiple of attention.head_count {}",
                                  file.path(), p, profile.dim, profile.n_heads));
    }
    profile.head_dim = profile.dim / profile.n_heads;
  }
  if (const auto ctx = file.opt_u64(p + "context_length")) {
    profile.ctx_train = static_cast<int>(std::min<uint64_t>(*ctx, 1u << 30));
  }

  profile.sliding = read_sliding_windows(file, profile.architecture, profile.n_layers);

  profile.layer_weight_bytes.assign(blocks, 0);
  profile.layer_flops.assign(blocks, 0.0);
  std::vector<bool> seen(blocks, false);
  for (const GgufTensor& t : file.tensors()) {
    const auto index = block_index(t.name);
    if (!index) continue;
    if (*index >= blocks) {
      throw GgufError(fmt::format("{}: tensor '{}' belongs to block {} but {}block_count is {}", file.path(),
                                  t.name, *index, p, blocks));
    }
    profile.layer_weight_bytes[*index] += t.nbytes;
    profile.layer_flops[*index] += 2.0 * static_cast<double>(t.elements());
    seen[*index] = true;
  }
  for (uint64_t i = 0; i < blocks; ++i) {
    if (!seen[i]) throw GgufError(fmt::format("{}: block {} has no tensors (blk.{}.*)", file.path(), i, i));
  }

  const GgufTensor* embed = file.find_tensor("token_embd.weight");
  if (!embed) throw GgufError(fmt::format("{}: tensor 'token_embd.weight' is missing", file.path()));
  if (embed->dims.size() != 2 || embed->dims[0] != static_cast<uint64_t>(profile.dim)) {
    throw GgufError(fmt::format("{}: tensor 'token_embd.weight' must have dims [{}, vocab], has {} dims",
                                file.path(), profile.dim, embed->dims.size()));
  }
  if (embed->dims[1] == 0 || embed->dims[1] > (1u << 24)) {
    throw GgufError(fmt::format("{}: tensor 'token_embd.weight' has vocabulary size {}", file.path(), embed->dims[1]));
  }
  profile.vocab_size = static_cast<int>(embed->dims[1]);
  profile.embed_bytes = embed->nbytes;

  const GgufTensor* output_norm = file.find_tensor("output_norm.weight");
  if (!output_norm) throw GgufError(fmt::format("{}: tensor 'output_norm.weight' is missing", file.path()));
  const GgufTensor* output = file.find_tensor("output.weight");
  const GgufTensor& head_matrix = output ? *output : *embed;
  profile.head_bytes = output_norm->nbytes + head_matrix.nbytes;
  profile.tied_shared_bytes = output ? 0 : embed->nbytes;
  profile.head_flops = 2.0 * static_cast<double>(head_matrix.elements());

  if (std::string problem = profile.validate(); !problem.empty()) {
    throw GgufError(fmt::format("{}: inconsistent cost profile: {}", file.path(), problem));
  }
  return profile;
}

ModelCostProfile make_uniform_cost_profile(const UniformModelShape& shape) {
  ModelCostProfile profile;
  profile.architecture = "uniform";
  profile.n_layers = shape.n_layers;
  const size_t layers = shape.n_layers > 0 ? static_cast<size_t>(shape.n_layers) : 0;
  profile.layer_weight_bytes.assign(layers, shape.layer_weight_bytes);
  profile.layer_flops.assign(layers, 2.0 * static_cast<double>(shape.layer_weight_elements));
  profile.embed_bytes = shape.embed_bytes;
  profile.head_bytes = shape.head_bytes;
  profile.tied_shared_bytes = shape.tied_output ? std::min(shape.embed_bytes, shape.head_bytes) : 0;
  profile.head_flops = 2.0 * shape.vocab_size * static_cast<double>(shape.dim);
  profile.dim = shape.dim;
  profile.n_heads = shape.n_heads;
  profile.n_kv_heads = shape.n_kv_heads;
  profile.head_dim = shape.head_dim;
  profile.vocab_size = shape.vocab_size;
  profile.ctx_train = shape.ctx_train;
  return profile;
}

}  // namespace baton
