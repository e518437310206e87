#include "model/kv_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
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

uint64_t KVCache::bytes_for(DType dtype, LayerRange range, int64_t capacity, int64_t kv_dim,
                            const SlidingWindows& windows) {
  return 2ull * static_cast<uint64_t>(windows.rows(range.first, range.last, capacity)) *
         row_bytes(dtype, static_cast<uint64_t>(kv_dim));
}

KVCache::KVCache(DType dtype, LayerRange range, int64_t capacity, int64_t kv_dim, SlidingWindows windows)
    : dtype_(dtype), range_(range), capacity_(capacity), kv_dim_(kv_dim), windows_(std::move(windows)) {
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
  // Only this cache's layers decide what it can roll back to.
  for (size_t il = 0; il < windows_.sliding.size(); ++il) {
    if (!range.contains(static_cast<int>(il))) windows_.sliding[il] = false;
  }
  row_bytes_ = static_cast<int64_t>(row_bytes(dtype, static_cast<uint64_t>(kv_dim)));
  size_t offset = 0;
  for (int il = range.first; il < range.last; ++il) {
    const int64_t rows = windows_.rows(il, capacity);
    layers_.push_back({offset, rows, 0});
    offset += 2 * static_cast<size_t>(rows) * static_cast<size_t>(row_bytes_);
  }
  storage_.resize(offset);
}

int64_t KVCache::reusable_prefix(int64_t n) const {
  return windows_.reusable_prefix(capacity_, high_, std::clamp<int64_t>(n, 0, size_));
}

void KVCache::set_size(int64_t n) {
  if (n < 0 || n > capacity_) {
    throw std::out_of_range(fmt::format("KV cache position {} outside [0, {}]", n, capacity_));
  }
  if (n < size_ && reusable_prefix(n) != n) {
    throw std::out_of_range(fmt::format(
        "KV cache cannot go back to {} positions: its sliding-window layers (window {}) have dropped keys that "
        "position needs; it can go back at most {} positions from the {} it held, or start again from 0",
        n, windows_.window, kSlidingRollback, high_));
  }
  if (n == 0) {
    high_ = 0;
    for (Layer& l : layers_) l.first_position = 0;
  }
  size_ = n;
  high_ = std::max(high_, n);
}

uint64_t KVCache::bytes_used() const {
  uint64_t rows = 0;
  for (const Layer& l : layers_) rows += static_cast<uint64_t>(std::min(size_, l.rows));
  return 2ull * rows * static_cast<uint64_t>(row_bytes_);
}

KVCache::Layer& KVCache::layer_of(int block) {
  if (!range_.contains(block)) {
    throw std::out_of_range(fmt::format("layer {} is not in this cache's range [{}, {})", block, range_.first, range_.last));
  }
  return layers_[static_cast<size_t>(block - range_.first)];
}

KVLayerView KVCache::view(Layer& l) {
  uint8_t* k = storage_.data() + l.offset;
  uint8_t* v = k + static_cast<size_t>(l.rows) * static_cast<size_t>(row_bytes_);
  return KVLayerView{dtype_, k, v, row_bytes_, l.first_position, l.rows};
}

KVLayerView KVCache::layer(int block) { return view(layer_of(block)); }

int64_t KVCache::max_write(int block) const {
  if (!range_.contains(block)) {
    throw std::out_of_range(fmt::format("layer {} is not in this cache's range [{}, {})", block, range_.first, range_.last));
  }
  const int64_t rows = layers_[static_cast<size_t>(block - range_.first)].rows;
  if (rows >= capacity_) return capacity_;
  return rows - (windows_.window - 1 + kSlidingRollback);
}

KVLayerView KVCache::layer_for_write(int block, int64_t first, int64_t n) {
  Layer& l = layer_of(block);
  if (n <= 0 || n > max_write(block)) {
    throw std::invalid_argument(fmt::format("layer {} takes 1..{} positions per write, not {}", block, max_write(block), n));
  }
  if (l.rows >= capacity_ || first + n - l.first_position <= l.rows) return view(l);
  // Slide: keep the window - 1 positions the new queries see and the rollback margin
  // before them, moved to the front; the positions from `first` on are written next.
  const int64_t keep_from = std::max<int64_t>(0, first - (windows_.window - 1 + kSlidingRollback));
  if (keep_from < l.first_position || first - l.first_position > l.rows) {
    throw std::logic_error(fmt::format("layer {}: cannot slide to write positions {}..{} over rows holding {}..{}",
                                       block, first, first + n - 1, l.first_position, l.first_position + l.rows - 1));
  }
  const size_t row = static_cast<size_t>(row_bytes_);
  const size_t from = static_cast<size_t>(keep_from - l.first_position) * row;
  const size_t bytes = static_cast<size_t>(first - keep_from) * row;
  uint8_t* k = storage_.data() + l.offset;
  uint8_t* v = k + static_cast<size_t>(l.rows) * row;
  std::memmove(k, k + from, bytes);
  std::memmove(v, v + from, bytes);
  l.first_position = keep_from;
  return view(l);
}

}  // namespace baton
