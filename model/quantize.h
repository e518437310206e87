// Quantising a GGUF model into another weight type: a pure plan (which tensor becomes
// which type, and why) and a writer that produces the new file one tensor at a time.
//
// The rules follow llama.cpp's quantiser where it has one:
// - tensors with one dimension (norms, biases, rope factors) are kept as stored;
// - every other tensor becomes the target type; one whose rows do not split into the
//   type's blocks falls back to the cheapest type that fits and has more bits per weight
//   (q4_K -> q5_0 or q8_0, q6_K -> q8_0, as llama.cpp does), else f16;
// - a tensor already in the target type is copied byte for byte; others are dequantised
//   to f32 and quantised again (requantising adds both errors; the plan says so).
// With `mixed`, the tensors a 4-bit model is most sensitive to are kept at 8 or 16 bits:
// the token embedding, the output head, every tensor of the first and last blocks, and
// every attention tensor (the seed's "INT4 weights, FP16 where it matters").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/gguf.h"

namespace baton {

class ThreadPool;

// The weight types a model can be quantised to: every type of tensor/'s table that the
// matvec kernels run and quantize_row writes, in table order.
std::vector<DType> quantize_target_types();
// "f32, f16, q4_0, ..." for messages.
std::string quantize_target_names();
// Bits per weight of a type (block bytes * 8 / block elements), e.g. 8.5 for q8_0.
double bits_per_weight(DType t);
// llama.cpp's general.file_type (llama_ftype) for a file mostly of type t; nullopt when
// llama.cpp has no value for it. `mixed` (sensitive tensors kept at more bits) marks a
// q4_K or q5_K file as llama.cpp's "_M" (medium) variant, the presets that do the same;
// other types have no such variant and keep their "mostly t" value, as llama-quantize does
// when its tensor-type overrides are used.
std::optional<uint32_t> llama_file_type(DType t, bool mixed = false);

struct QuantizeOptions {
  DType type = DType::Q8_0;
  bool mixed = false;
  DType sensitive_type = DType::Q8_0;  // what `mixed` keeps sensitive tensors at
};

struct TensorPlan {
  std::string name;
  std::vector<uint64_t> dims;
  DType from = DType::F32;
  DType to = DType::F32;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  // Why `to` is not simply the target type ("1-D: kept as stored", "token embedding
  // (--mixed)", "row length 704 is not a multiple of q4_K's 256 elements"); empty otherwise.
  std::string reason;
  bool fell_back = false;  // the rows did not fit the wanted type's blocks
  bool copied() const { return from == to; }
};

struct QuantizePlan {
  QuantizeOptions options;
  std::vector<TensorPlan> tensors;  // in the input file's order
  uint64_t bytes_in = 0;            // tensor data, before and after
  uint64_t bytes_out = 0;
  int fallbacks = 0;                // tensors whose rows did not fit the type's blocks
  int requantised = 0;              // quantised tensors dequantised and quantised again
};

// Decides every tensor's type. Throws std::invalid_argument for a target type that is
// not in quantize_target_types(), GgufError for a file with no 2-D tensor.
QuantizePlan plan_quantization(const GgufFile& in, const QuantizeOptions& options);

// A writer holding `in`'s metadata (every key kept; general.file_type and
// general.quantization_version set for the new types) and its tensors as planned, each
// produced when the writer writes it. `in` must outlive the writer. `progress` gets
// (input bytes done, input bytes total) after each tensor; `pool` splits rows (may be null).
GgufWriter quantized_model_writer(const GgufFile& in, const QuantizePlan& plan, ThreadPool* pool,
                                  std::function<void(uint64_t done, uint64_t total)> progress = {});

}  // namespace baton
