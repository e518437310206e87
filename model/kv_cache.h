// Per-sequence KV cache for the layers of one stage. Storage is allocated once for the
// requested context; positions [0, size()) are valid. F16 halves the memory of F32;
// Q8_0 (INT8 with a scale per 32 values) roughly quarters it.
#pragma once

#include <cstdint>
#include <vector>

#include "model/weights.h"
#include "tensor/kernels.h"

namespace baton {

class KVCache {
 public:
  // Throws std::invalid_argument for unsupported dtypes or shapes (Q8_0 needs the
  // per-position row to be a multiple of 32).
  KVCache(DType dtype, LayerRange range, int64_t capacity, int64_t kv_dim);

  DType dtype() const { return dtype_; }
  LayerRange range() const { return range_; }
  int64_t capacity() const { return capacity_; }
  int64_t size() const { return size_; }          // positions filled
  void set_size(int64_t n);                        // after a forward; or to roll back
  void clear() { size_ = 0; }
  uint64_t bytes_allocated() const { return storage_.size(); }
  uint64_t bytes_used() const;                     // for size() positions
  KVLayerView layer(int block);

  // Bytes a cache of this shape needs, for planning before allocation.
  static uint64_t bytes_for(DType dtype, int n_layers, int64_t capacity, int64_t kv_dim);

 private:
  DType dtype_;
  LayerRange range_;
  int64_t capacity_;
  int64_t kv_dim_;
  int64_t row_bytes_;
  int64_t size_ = 0;
  std::vector<uint8_t> storage_;  // [layer][K|V][position][row]
};

// Parses "f16" / "q8_0" / "int8" / "f32" for --kv-dtype.
DType parse_kv_dtype(const std::string& name);

}  // namespace baton
