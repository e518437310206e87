// Per-sequence KV cache for the layers of one stage. F16 halves the memory of F32; Q8_0
// (INT8 with a scale per 32 values) roughly quarters it. A layer holds the whole context,
// or, when it attends through a sliding window (Gemma 2/3), only the latest positions it
// can still read (model/sliding_window.h): positions [0, size()) are valid as far as any
// query at size() and later can see them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/sliding_window.h"
#include "model/weights.h"
#include "tensor/kernels.h"

namespace baton {

class KVCache {
 public:
  // Throws std::invalid_argument for unsupported dtypes or shapes (Q8_0 needs the
  // per-position row to be a multiple of 32). `windows` names the sliding-window layers
  // (by model layer index), which keep fewer rows.
  KVCache(DType dtype, LayerRange range, int64_t capacity, int64_t kv_dim, SlidingWindows windows = {});

  DType dtype() const { return dtype_; }
  LayerRange range() const { return range_; }
  int64_t capacity() const { return capacity_; }
  int64_t size() const { return size_; }          // positions filled
  // After a forward, or to roll back / keep a prefix. Throws std::out_of_range outside
  // [0, capacity], and for a rollback reusable_prefix() refuses (keys already dropped).
  void set_size(int64_t n);
  void clear() { set_size(0); }
  // The longest prefix of at most n positions set_size() accepts now: n, or 0 when a
  // sliding-window layer has dropped keys the positions after it would need.
  int64_t reusable_prefix(int64_t n) const;
  uint64_t bytes_allocated() const { return storage_.size(); }
  uint64_t bytes_used() const;                     // for size() positions
  // The layer's rows for reading what positions up to size() see, and for a full cache
  // writing any position below capacity().
  KVLayerView layer(int block);
  // The layer's rows ready for writing positions [first, first + n) and reading what they
  // see: a sliding layer slides its rows forward when they would run past its last row.
  // n must not exceed max_write(block).
  KVLayerView layer_for_write(int block, int64_t first, int64_t n);
  // Positions one layer_for_write() call can take for `block` (capacity() for a full layer).
  int64_t max_write(int block) const;

  // Bytes a cache of this shape needs, for planning before allocation: n_layers layers
  // holding the whole context, or the layers `range` with their windows.
  static uint64_t bytes_for(DType dtype, int n_layers, int64_t capacity, int64_t kv_dim);
  static uint64_t bytes_for(DType dtype, LayerRange range, int64_t capacity, int64_t kv_dim,
                            const SlidingWindows& windows);

 private:
  struct Layer {
    size_t offset = 0;           // of its K rows in storage_ (V rows follow)
    int64_t rows = 0;
    int64_t first_position = 0;  // the position in row 0 (moves for a sliding layer only)
  };
  Layer& layer_of(int block);
  KVLayerView view(Layer& l);

  DType dtype_;
  LayerRange range_;
  int64_t capacity_;
  int64_t kv_dim_;
  int64_t row_bytes_;
  SlidingWindows windows_;
  int64_t size_ = 0;
  int64_t high_ = 0;  // most positions held since the cache was last emptied
  std::vector<Layer> layers_;
  std::vector<uint8_t> storage_;  // per layer: K rows, then V rows
};

// Parses "f16" / "q8_0" / "int8" / "f32" for --kv-dtype.
DType parse_kv_dtype(const std::string& name);

}  // namespace baton
