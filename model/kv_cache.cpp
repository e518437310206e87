#include "model/kv_cache.h"

#include <fmt/format.h>

#include <stdexcept>

namespace baton {

DType parse_kv_dtype(const std::string& name) {
  if (name == "f16") return DType::F16;
  if (name == "f32") return DType::F32;
  if (name == "q8_0" || name == "int8") return DType::Q8_0;
  throw std::invalid_argument(fmt::format("KV cache dtype '{}' is not one of f16, q8_0 (int8), f32", name));
}

uint64_t KVCache::bytes_for(DType dtype, int n_layers, int64_t capacity, int64_t kv_dim) {
  return 2ull * static_cast<uint64_t>(n_layers) * static_cast<uint64_t>(capacity) *
         row_bytes(dtype, static_cast<uint64_t>(kv_dim));
}

KVCache::KVCache(DType dtype, LayerRange range, int64_t capacity, int64_t kv_dim)
    : dtype_(dtype), range_(range), capacity_(capacity), kv_dim_(kv_dim) {
  if (dtype != DType::F16 && dtype != DType::Q8_0 && dtype != DType::F32) {
    throw std::invalid_argument(fmt::format("KV cache dtype {} is not supported (f16, q8_0, f32)", dtype_name(dtype)));
  }
  if (capacity <= 0 || kv_dim <= 0 || range.size() < 0) {
    throw std::invalid_argument("KV cache needs a positive context and row size");
  }
  if (!row_fits_blocks(dtype, static_cast<uint64_t>(kv_dim))) {
    throw std::invalid_argument(fmt::format("KV cache dtype {} needs a row of a multiple of {} values, got {}",
                                            dtype_name(dtype), dtype_info(dtype).block_elems, kv_dim));
  }
  row_bytes_ = static_cast<int64_t>(row_bytes(dtype, static_cast<uint64_t>(kv_dim)));
  storage_.resize(bytes_for(dtype, range.size(), capacity, kv_dim));
}

void KVCache::set_size(int64_t n) {
  if (n < 0 || n > capacity_) {
    throw std::out_of_range(fmt::format("KV cache position {} outside [0, {}]", n, capacity_));
  }
  size_ = n;
}

uint64_t KVCache::bytes_used() const {
  return 2ull * static_cast<uint64_t>(range_.size()) * static_cast<uint64_t>(size_) *
         static_cast<uint64_t>(row_bytes_);
}

KVLayerView KVCache::layer(int block) {
  if (!range_.contains(block)) {
    throw std::out_of_range(fmt::format("layer {} is not in this cache's range [{}, {})", block, range_.first, range_.last));
  }
  const size_t plane = static_cast<size_t>(capacity_) * static_cast<size_t>(row_bytes_);
  uint8_t* base = storage_.data() + 2 * plane * static_cast<size_t>(block - range_.first);
  return KVLayerView{dtype_, base, base + plane, row_bytes_};
}

}  // namespace baton
