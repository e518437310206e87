#include "model/quantize.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include "model/weights.h"
#include "tensor/kernels.h"
#include "tensor/thread_pool.h"

namespace baton {

namespace {

// ggml type ids are small (tensor/dtype.h keeps them below 64); scanning the id space
// through dtype_info reads tensor/'s one table instead of restating it here.
constexpr uint32_t kMaxGgmlTypeId = 64;

// llama.cpp's quantiser writes this beside quantised tensors (GGML_QNT_VERSION).
constexpr uint32_t kQuantizationVersion = 2;

bool is_target(DType t) {
  if (!is_supported_weight_dtype(t)) return false;
  // A weight type the kernels run must also be one quantize_row can write: probe one block.
  const DTypeInfo info = dtype_info(t);
  std::vector<float> zeros(info.block_elems, 0.0f);
  std::vector<uint8_t> block(info.block_bytes);
  try {
    quantize_row(t, zeros.data(), block.data(), info.block_elems);
  } catch (const std::invalid_argument&) {
    return false;
  }
  return true;
}

// Dimensions as ggml counts them: trailing 1s do not count ([n, 1] is a vector).
size_t effective_dims(const std::vector<uint64_t>& dims) {
  size_t n = dims.size();
  while (n > 1 && dims[n - 1] == 1) --n;
  return n;
}

// "blk.N." -> N; nullopt for tensors outside the blocks.
std::optional<int> block_index(std::string_view name) {
  constexpr std::string_view prefix = "blk.";
  if (!name.starts_with(prefix)) return std::nullopt;
  int n = 0;
  const char* begin = name.data() + prefix.size();
  const auto [end, ec] = std::from_chars(begin, name.data() + name.size(), n);
  if (ec != std::errc() || end == begin || end == name.data() + name.size() || *end != '.') return std::nullopt;
  return n;
}

// Why `mixed` keeps this tensor at 8 or 16 bits, or nullopt.
std::optional<std::string> sensitive_reason(std::string_view name, int last_block) {
  if (name == "token_embd.weight") return "token embedding";
  if (name == "output.weight") return "output head";
  if (const auto block = block_index(name)) {
    if (*block == 0) return "first block";
    if (*block == last_block) return "last block";
  }
  if (name.find(".attn_") != std::string_view::npos) return "attention";
  return std::nullopt;
}

// The cheapest target type whose blocks fit a row of `row` elements and that keeps more
// bits per weight than `wanted` (so a fallback never loses precision).
DType fitting_type(DType wanted, uint64_t row) {
  std::optional<DType> best;
  for (DType t : quantize_target_types()) {
    if (!row_fits_blocks(t, row) || bits_per_weight(t) <= bits_per_weight(wanted)) continue;
    if (!best || bits_per_weight(t) < bits_per_weight(*best)) best = t;
  }
  if (!best) throw std::invalid_argument(fmt::format("no weight type fits rows of {} elements", row));
  return *best;
}

DType higher_precision(DType a, DType b) { return bits_per_weight(b) > bits_per_weight(a) ? b : a; }

TensorPlan plan_tensor(const GgufTensor& t, const QuantizeOptions& o, int last_block) {
  TensorPlan p;
  p.name = t.name;
  p.dims = t.dims;
  p.from = t.dtype;
  p.bytes_in = t.nbytes;
  if (effective_dims(t.dims) < 2) {
    p.to = t.dtype;
    p.reason = "1-D: kept as stored";
  } else {
    DType wanted = o.type;
    if (o.mixed) {
      if (auto why = sensitive_reason(t.name, last_block)) {
        wanted = higher_precision(o.type, o.sensitive_type);
        p.reason = fmt::format("{}: kept at {} (--mixed)", *why, dtype_name(wanted));
      }
    }
    p.to = wanted;
    if (!row_fits_blocks(wanted, t.dims[0])) {
      p.to = fitting_type(wanted, t.dims[0]);
      p.fell_back = true;
      if (!p.reason.empty()) p.reason += "; ";
      p.reason += fmt::format("row length {} is not a multiple of {}'s {}-element blocks: {} instead", t.dims[0],
                              dtype_name(wanted), dtype_info(wanted).block_elems, dtype_name(p.to));
    }
  }
  p.bytes_out = row_bytes(p.to, t.dims[0]) * t.rows();
  return p;
}

// Dequantises rows of `from` and quantises them to `to`, splitting the rows over the pool.
void convert_rows(const TensorPlan& p, const uint8_t* src, std::span<uint8_t> out, ThreadPool* pool) {
  const uint64_t n = p.dims[0];
  const uint64_t rows = out.size() / row_bytes(p.to, n);
  const uint64_t in_row = row_bytes(p.from, n), out_row = row_bytes(p.to, n);
  auto run = [&](size_t begin, size_t end) {
    std::vector<float> row(n);
    for (size_t r = begin; r < end; ++r) {
      dequantize_row(p.from, src + r * in_row, row.data(), static_cast<int64_t>(n));
      quantize_row(p.to, row.data(), out.data() + r * out_row, static_cast<int64_t>(n));
    }
  };
  if (pool != nullptr) {
    pool->parallel_for(rows, 1, run);
  } else {
    run(0, rows);
  }
}

void copy_metadata(const GgufFile& in, const QuantizePlan& plan, GgufWriter& w) {
  for (const auto& [key, value] : in.metadata()) {
    if (key == "general.file_type" || key == "general.quantization_version") continue;  // rewritten below
    w.set(key, value);
  }
  if (const auto ft = llama_file_type(plan.options.type, plan.options.mixed)) w.set_u32("general.file_type", *ft);
  const bool quantised = std::any_of(plan.tensors.begin(), plan.tensors.end(),
                                     [](const TensorPlan& t) { return dtype_info(t.to).block_elems > 1; });
  if (quantised) w.set_u32("general.quantization_version", kQuantizationVersion);
}

}  // namespace

std::vector<DType> quantize_target_types() {
  std::vector<DType> types;
  for (uint32_t id = 0; id < kMaxGgmlTypeId; ++id) {
    if (const auto info = dtype_info(id); info && is_target(info->type)) types.push_back(info->type);
  }
  return types;
}

std::string quantize_target_names() {
  std::vector<std::string_view> names;
  for (DType t : quantize_target_types()) names.push_back(dtype_name(t));
  return fmt::format("{}", fmt::join(names, ", "));
}

double bits_per_weight(DType t) {
  const DTypeInfo info = dtype_info(t);
  return info.block_bytes * 8.0 / info.block_elems;
}

std::optional<uint32_t> llama_file_type(DType t, bool mixed) {
  // llama.h's llama_ftype, keyed by ggml type id so that types tensor/ adds later map too.
  // A k-quant file maps to its "_S" (mostly that type) value, a mixed one to "_M".
  if (mixed && t == DType::Q4_K) return 15;  // MOSTLY_Q4_K_M
  if (mixed && t == DType::Q5_K) return 17;  // MOSTLY_Q5_K_M
  switch (static_cast<uint32_t>(t)) {
    case 0: return 0;    // F32: ALL_F32
    case 1: return 1;    // F16: MOSTLY_F16
    case 2: return 2;    // Q4_0
    case 3: return 3;    // Q4_1
    case 6: return 8;    // Q5_0
    case 7: return 9;    // Q5_1
    case 8: return 7;    // Q8_0
    case 12: return 14;  // Q4_K: MOSTLY_Q4_K_S
    case 13: return 16;  // Q5_K: MOSTLY_Q5_K_S
    case 14: return 18;  // Q6_K
    case 20: return 25;  // IQ4_NL
    case 30: return 32;  // BF16
    default: return std::nullopt;
  }
}

QuantizePlan plan_quantization(const GgufFile& in, const QuantizeOptions& options) {
  for (DType t : {options.type, options.sensitive_type}) {
    const auto targets = quantize_target_types();
    if (std::find(targets.begin(), targets.end(), t) == targets.end()) {
      throw std::invalid_argument(
          fmt::format("cannot quantise to {}: the types are {}", dtype_name(t), quantize_target_names()));
    }
  }
  int last_block = -1;
  for (const GgufTensor& t : in.tensors()) last_block = std::max(last_block, block_index(t.name).value_or(-1));
  QuantizePlan plan;
  plan.options = options;
  for (const GgufTensor& t : in.tensors()) {
    TensorPlan p = plan_tensor(t, options, last_block);
    plan.bytes_in += p.bytes_in;
    plan.bytes_out += p.bytes_out;
    if (p.fell_back) ++plan.fallbacks;
    if (!p.copied() && dtype_info(p.from).block_elems > 1) ++plan.requantised;
    plan.tensors.push_back(std::move(p));
  }
  const bool any_matrix = std::any_of(plan.tensors.begin(), plan.tensors.end(),
                                      [](const TensorPlan& p) { return effective_dims(p.dims) >= 2; });
  if (!any_matrix) throw GgufError(fmt::format("{}: no tensor with two or more dimensions to quantise", in.path()));
  return plan;
}

GgufWriter quantized_model_writer(const GgufFile& in, const QuantizePlan& plan, ThreadPool* pool,
                                  std::function<void(uint64_t done, uint64_t total)> progress) {
  GgufWriter w(3, in.alignment());
  copy_metadata(in, plan, w);
  // Shared by the fill functions, which the writer calls in order, one at a time.
  auto done = std::make_shared<uint64_t>(0);
  for (const TensorPlan& p : plan.tensors) {
    const GgufTensor* t = in.find_tensor(p.name);
    if (t == nullptr || t->dtype != p.from || t->dims != p.dims) {
      throw std::invalid_argument(fmt::format("quantisation plan does not match {}: tensor '{}'", in.path(), p.name));
    }
    const uint64_t total = plan.bytes_in;
    w.add_tensor_filled(p.name, p.dims, p.to, [t, p, pool, done, total, progress](std::span<uint8_t> out) {
      if (p.copied()) {
        std::memcpy(out.data(), t->data, out.size());
      } else {
        convert_rows(p, t->data, out, pool);
      }
      *done += p.bytes_in;
      if (progress) progress(*done, total);
    });
  }
  return w;
}

}  // namespace baton
