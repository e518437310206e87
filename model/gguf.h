// GGUF v2/v3 reader (read-only mmap, everything validated before use) and writer.
// Format facts: little-endian; header = magic "GGUF", u32 version, u64 tensor_count,
// u64 kv_count; then kv pairs, tensor infos, padding to general.alignment (default 32),
// tensor data. Tensor offsets are relative to the start of the data section.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tensor/dtype.h"

namespace baton {

// Every problem with a GGUF file surfaces as this, with a message naming the problem,
// e.g. "model.gguf: tensor 'blk.3.attn_q.weight': data [1024, 5120) ends past file end 4096".
class GgufError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};

struct GgufArray;
// The GGUF spelling of a value type ("u32", "string", "array", ...); "?" for ids outside the enum.
std::string_view gguf_type_name(GgufType type);
// Scalars are widened on read: ints -> int64_t/uint64_t, floats -> double, BOOL -> bool.
// `type` in GgufValue records the on-disk type so the writer can round-trip exactly.
struct GgufValue {
  GgufType type = GgufType::U32;
  std::variant<uint64_t, int64_t, double, bool, std::string, std::shared_ptr<GgufArray>> v;
};
struct GgufArray {
  GgufType elem_type = GgufType::U32;
  std::vector<GgufValue> items;  // for STRING arrays: strings; for numeric: scalars
};

struct GgufTensor {
  std::string name;
  std::vector<uint64_t> dims;  // ggml order: dims[0] = ne0 (row length, contiguous)
  DType dtype = DType::F32;
  uint64_t offset = 0;         // relative to the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // points into the mapping (valid while the file lives)
  uint64_t elements() const;
  uint64_t rows() const;       // product of dims[1..]
};

// Limits on what a file may declare, so hostile files cannot make us allocate wildly.
struct GgufLimits {
  uint64_t max_tensors = 1u << 16;
  uint64_t max_kv = 1u << 16;
  uint64_t max_string_bytes = 1u << 20;     // a single string
  uint64_t max_array_items = 1u << 24;      // tokenizer vocabularies are ~150k-260k
  uint32_t max_dims = 4;
  uint32_t max_array_depth = 2;
  // Memory the decoded metadata may take (strings plus per-item overhead). A file can make
  // many small items (1 byte each on disk, ~48 bytes decoded); this caps the blow-up.
  uint64_t max_metadata_bytes = 1ull << 30;
};

class GgufFile {
 public:
  // Maps and validates the whole file. Throws GgufError with a precise message.
  static GgufFile open(const std::string& path, const GgufLimits& limits = {});
  // Validates a file image already in memory (used by tests and fetched shards); the
  // bytes are copied.
  static GgufFile parse(std::vector<uint8_t> bytes, const std::string& label = "<memory>",
                        const GgufLimits& limits = {});

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  const std::string& path() const;
  uint32_t version() const;
  uint64_t alignment() const;
  uint64_t file_size() const;

  const std::map<std::string, GgufValue>& metadata() const;
  const GgufValue* find(std::string_view key) const;
  // Typed getters: throw GgufError naming the key when missing or of the wrong type.
  // Integer getters accept any integer type whose value fits.
  std::string get_string(std::string_view key) const;
  uint64_t get_u64(std::string_view key) const;
  int64_t get_i64(std::string_view key) const;
  double get_f64(std::string_view key) const;  // accepts F32/F64 and integers
  bool get_bool(std::string_view key) const;
  std::optional<std::string> opt_string(std::string_view key) const;
  std::optional<uint64_t> opt_u64(std::string_view key) const;
  std::optional<double> opt_f64(std::string_view key) const;
  std::optional<bool> opt_bool(std::string_view key) const;
  // Arrays: throw if missing, wrong element type or not an array.
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<double> get_f64_array(std::string_view key) const;   // F32/F64 elements
  std::vector<int64_t> get_i64_array(std::string_view key) const;  // integer elements

  const std::vector<GgufTensor>& tensors() const;
  const GgufTensor* find_tensor(std::string_view name) const;
  // Throws GgufError "tensor 'x': expected dims [a, b] (ggml order), found [c, d]" etc.
  const GgufTensor& require_tensor(std::string_view name, const std::vector<uint64_t>& dims) const;

 private:
  struct Impl;
  explicit GgufFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Builds a GGUF file. Values keep their declared type; tensors are written in the order
// added, each aligned. Data must already be in the dtype's block layout.
class GgufWriter {
 public:
  explicit GgufWriter(uint32_t version = 3, uint64_t alignment = 32);
  void set(std::string key, GgufValue value);
  void set_string(std::string key, std::string value);
  void set_u32(std::string key, uint32_t value);
  void set_i32(std::string key, int32_t value);
  void set_u64(std::string key, uint64_t value);
  void set_f32(std::string key, float value);
  void set_bool(std::string key, bool value);
  void set_string_array(std::string key, std::vector<std::string> values);
  void set_f32_array(std::string key, const std::vector<float>& values);
  void set_i32_array(std::string key, const std::vector<int32_t>& values);
  void add_tensor(std::string name, std::vector<uint64_t> dims, DType dtype, std::vector<uint8_t> data);
  // A tensor whose bytes are produced only when the file is written, one tensor at a time,
  // so that writing a model (quantising one, say) never holds more than its largest tensor
  // in memory. `fill` gets a buffer of exactly the tensor's byte size to fill completely.
  using TensorFill = std::function<void(std::span<uint8_t> out)>;
  void add_tensor_filled(std::string name, std::vector<uint64_t> dims, DType dtype, TensorFill fill);
  // The complete file image.
  std::vector<uint8_t> serialize() const;
  // Writes atomically (temp file + rename). Throws std::runtime_error on I/O failure.
  void write(const std::string& path) const;

 private:
  uint32_t version_;
  uint64_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  struct PendingTensor {
    std::string name;
    std::vector<uint64_t> dims;
    DType dtype;
    uint64_t nbytes;
    std::vector<uint8_t> data;  // empty when `fill` produces the bytes
    TensorFill fill;
  };
  // Checks a tensor's name, dims and dtype and returns its byte size.
  uint64_t check_tensor(const std::string& name, const std::vector<uint64_t>& dims, DType dtype) const;
  // The bytes of t: its data, or `fill` run into `scratch`.
  std::span<const uint8_t> tensor_bytes(const PendingTensor& t, std::vector<uint8_t>& scratch) const;
  std::vector<PendingTensor> tensors_;
};

}  // namespace baton
