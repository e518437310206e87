// GGUF parsing and validation. The file is untrusted: every count and length is checked
// against GgufLimits and against the bytes that remain before anything is allocated for
// it, all size arithmetic is overflow-checked, and every failure is a GgufError naming the
// key or tensor concerned.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "model/gguf_format.h"
#include "model/gguf_impl.h"

namespace baton {

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader copies little-endian fields straight into host integers");

namespace {

using namespace gguf_detail;

// Smallest encodings: a key-value pair with a 1-byte key and a 1-byte value, a tensor info
// with a 1-byte name and one dimension.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;
// Recursion guard independent of caller-supplied limits.
constexpr uint32_t kHardMaxArrayDepth = 16;

class Parser {
 public:
  Parser(const uint8_t* data, uint64_t size, const GgufLimits& limits, GgufContents& out)
      : data_(data), size_(size), limits_(limits), out_(out), metadata_budget_(limits.max_metadata_bytes) {}

  void run() {
    read_header();
    for (uint64_t i = 0; i < kv_count_; ++i) read_kv(i);
    out_.tensors.reserve(static_cast<size_t>(tensor_count_));
    for (uint64_t i = 0; i < tensor_count_; ++i) read_tensor_info(i);
    place_tensor_data();
  }

 private:
  // What is being read, for error messages: "header", "key #3", "key 'x' item 7",
  // "tensor #2", "tensor 'y'". Built only when an error is reported.
  enum class Subject { Header, KeyNumber, Key, TensorNumber, Tensor };

  std::string who() const {
    switch (subject_) {
      case Subject::Header: return "header";
      case Subject::KeyNumber: return fmt::format("key #{}", subject_index_);
      case Subject::TensorNumber: return fmt::format("tensor #{}", subject_index_);
      case Subject::Tensor: return fmt::format("tensor '{}'", subject_name_);
      case Subject::Key: {
        std::string s = fmt::format("key '{}'", subject_name_);
        for (size_t i = 0; i < item_path_.size(); ++i) s += fmt::format("{}{}", i == 0 ? " item " : ".", item_path_[i]);
        return s;
      }
    }
    return "?";
  }

  [[noreturn]] void fail(const std::string& message) const { throw GgufError(out_.label + ": " + message); }
  [[noreturn]] void fail_here(const std::string& message) const { fail(who() + ": " + message); }

  uint64_t remaining() const { return size_ - pos_; }

  void need(uint64_t n, const char* what) const {
    if (n > remaining()) {
      fail_here(fmt::format("truncated file: {} at offset {} needs {} bytes, only {} remain", what, pos_, n, remaining()));
    }
  }

  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  // A length-prefixed string as a view into the image (no copy).
  std::string_view read_string(const char* what) {
    const uint64_t len = read<uint64_t>(what);
    if (len > limits_.max_string_bytes) {
      fail_here(fmt::format("{} length {} exceeds the limit of {} bytes", what, len, limits_.max_string_bytes));
    }
    need(len, what);
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

  void charge_metadata_memory(uint64_t bytes) {
    if (bytes > metadata_budget_) {
      fail_here(fmt::format("metadata needs more than {} bytes of memory once decoded (GgufLimits::max_metadata_bytes)",
                            limits_.max_metadata_bytes));
    }
    metadata_budget_ -= bytes;
  }

  void read_header() {
    subject_ = Subject::Header;
    const size_t magic_bytes = static_cast<size_t>(std::min<uint64_t>(size_, 4));
    if (magic_bytes > 0 && std::memcmp(data_, kMagic, magic_bytes) != 0) {
      std::string shown;
      for (size_t i = 0; i < magic_bytes; ++i) {
        const unsigned char c = data_[i];
        shown += (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') ? std::string(1, static_cast<char>(c))
                                                                    : fmt::format("\\x{:02x}", c);
      }
      fail(fmt::format("not a GGUF file: magic is '{}', expected 'GGUF'", shown));
    }
    need(4, "magic");
    pos_ = 4;
    const uint32_t version = read<uint32_t>("version");
    if (version == 1) {
      fail("GGUF version 1 is not supported (it predates 64-bit counts); baton reads versions 2 and 3 - "
           "convert the file with a current llama.cpp");
    }
    if (version != 2 && version != 3) {
      const uint32_t swapped = __builtin_bswap32(version);
      if (swapped >= 1 && swapped <= 3) {
        fail(fmt::format("file is big-endian GGUF (version field reads {:#010x}); baton reads little-endian files only",
                         version));
      }
      fail(fmt::format("unsupported GGUF version {}: expected 2 or 3", version));
    }
    out_.version = version;
    tensor_count_ = read<uint64_t>("tensor count");
    kv_count_ = read<uint64_t>("metadata key count");
    if (tensor_count_ > limits_.max_tensors) {
      fail(fmt::format("tensor count {} exceeds the limit of {}", tensor_count_, limits_.max_tensors));
    }
    if (kv_count_ > limits_.max_kv) {
      fail(fmt::format("metadata key count {} exceeds the limit of {}", kv_count_, limits_.max_kv));
    }
    // Each entry takes some bytes, so the counts alone bound what the file must hold.
    uint64_t kv_min = 0, tensor_min = 0, total_min = 0;
    const bool fits = checked_mul(kv_count_, kMinKvBytes, kv_min) &&
                      checked_mul(tensor_count_, kMinTensorInfoBytes, tensor_min) &&
                      checked_add(kv_min, tensor_min, total_min);
    if (!fits || total_min > remaining()) {
      fail(fmt::format("truncated file or corrupt counts: {} metadata keys and {} tensors need at least {} more bytes, "
                       "only {} remain",
                       kv_count_, tensor_count_, fits ? fmt::to_string(total_min) : std::string("2^64"), remaining()));
    }
  }

  void read_kv(uint64_t index) {
    subject_ = Subject::KeyNumber;
    subject_index_ = index;
    item_path_.clear();
    const std::string_view key = read_string("key");
    if (key.empty()) fail_here("empty key name");
    subject_ = Subject::Key;
    subject_name_ = key;
    const uint32_t type_id = read<uint32_t>("value type");
    const auto type = value_type_from_id(type_id);
    if (!type) fail_here(fmt::format("unknown value type {} (valid types are 0 to 12)", type_id));
    auto [it, inserted] = out_.metadata.try_emplace(std::string(key));
    if (!inserted) fail(fmt::format("duplicate key '{}'", key));
    it->second = read_value(*type, 0);
    if (key == kAlignmentKey) apply_alignment(it->second);
  }

  void apply_alignment(const GgufValue& v) {
    if (v.type != GgufType::U32) {
      fail_here(fmt::format("must be of type u32, found {}", gguf_type_name(v.type)));
    }
    const uint64_t a = std::get<uint64_t>(v.v);
    if (!is_power_of_two(a)) fail_here(fmt::format("alignment {} is not a power of two", a));
    out_.alignment = a;
  }

  GgufValue read_value(GgufType type, uint32_t depth) {
    GgufValue out;
    out.type = type;
    switch (type) {
      case GgufType::U8: out.v = uint64_t{read<uint8_t>("u8 value")}; break;
      case GgufType::I8: out.v = int64_t{read<int8_t>("i8 value")}; break;
      case GgufType::U16: out.v = uint64_t{read<uint16_t>("u16 value")}; break;
      case GgufType::I16: out.v = int64_t{read<int16_t>("i16 value")}; break;
      case GgufType::U32: out.v = uint64_t{read<uint32_t>("u32 value")}; break;
      case GgufType::I32: out.v = int64_t{read<int32_t>("i32 value")}; break;
      case GgufType::U64: out.v = uint64_t{read<uint64_t>("u64 value")}; break;
      case GgufType::I64: out.v = int64_t{read<int64_t>("i64 value")}; break;
      case GgufType::F32: out.v = double{read<float>("f32 value")}; break;
      case GgufType::F64: out.v = read<double>("f64 value"); break;
      case GgufType::BOOL: {
        const uint8_t b = read<uint8_t>("bool value");
        if (b > 1) fail_here(fmt::format("bool value is {}, expected 0 or 1", b));
        out.v = b == 1;
        break;
      }
      case GgufType::STRING: {
        const std::string_view s = read_string("string");
        charge_metadata_memory(s.size());
        out.v = std::string(s);
        break;
      }
      case GgufType::ARRAY: out.v = read_array(depth + 1); break;
    }
    return out;
  }

  std::shared_ptr<GgufArray> read_array(uint32_t depth) {
    const uint32_t max_depth = std::min(limits_.max_array_depth, kHardMaxArrayDepth);
    if (depth > max_depth) fail_here(fmt::format("arrays nested {} deep, the limit is {}", depth, max_depth));
    const uint32_t elem_id = read<uint32_t>("array element type");
    const auto elem = value_type_from_id(elem_id);
    if (!elem) fail_here(fmt::format("unknown array element type {} (valid types are 0 to 12)", elem_id));
    const uint64_t count = read<uint64_t>("array length");
    if (count > limits_.max_array_items) {
      fail_here(fmt::format("array length {} exceeds the limit of {} items", count, limits_.max_array_items));
    }
    uint64_t min_bytes = 0;
    if (!checked_mul(count, min_encoded_size(*elem), min_bytes) || min_bytes > remaining()) {
      fail_here(fmt::format("truncated file or corrupt length: array of {} {} items needs at least {} bytes, only {} remain",
                            count, gguf_type_name(*elem), count * min_encoded_size(*elem), remaining()));
    }
    charge_metadata_memory(count * sizeof(GgufValue));  // count <= remaining bytes, no overflow
    auto arr = std::make_shared<GgufArray>();
    arr->elem_type = *elem;
    arr->items.reserve(static_cast<size_t>(count));
    item_path_.push_back(0);
    for (uint64_t i = 0; i < count; ++i) {
      item_path_.back() = i;
      arr->items.push_back(read_value(*elem, depth));
    }
    item_path_.pop_back();
    return arr;
  }

  void read_tensor_info(uint64_t index) {
    subject_ = Subject::TensorNumber;
    subject_index_ = index;
    const std::string_view name = read_string("tensor name");
    if (name.empty()) fail_here("empty tensor name");
    subject_ = Subject::Tensor;
    subject_name_ = name;

    GgufTensor t;
    t.name = std::string(name);
    const uint32_t n_dims = read<uint32_t>("dimension count");
    if (n_dims == 0 || n_dims > limits_.max_dims) {
      fail_here(fmt::format("has {} dimensions, expected 1 to {}", n_dims, limits_.max_dims));
    }
    need(uint64_t{n_dims} * 8, "dimensions");  // before sizing anything by n_dims
    t.dims.resize(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) t.dims[d] = read<uint64_t>("dimension");
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      if (t.dims[d] == 0) fail_here(fmt::format("dimension {} is 0 in dims {}", d, format_dims(t.dims)));
      if (!checked_mul(elements, t.dims[d], elements) || elements > static_cast<uint64_t>(INT64_MAX)) {
        fail_here(fmt::format("element count of dims {} overflows a 64-bit integer", format_dims(t.dims)));
      }
    }
    const uint32_t type_id = read<uint32_t>("tensor type");
    const auto info = dtype_info(type_id);
    if (!info) {
      const std::string_view ggml_name = ggml_type_name(type_id);
      if (!ggml_name.empty()) {
        fail(fmt::format("{} has type {} (id {}), which baton does not support (supported: f32, f16, bf16, q8_0, "
                         "q4_0, q5_0, q5_1, iq4_nl, q4_K, q5_K, q6_K)",
                         who(), ggml_name, type_id));
      }
      fail(fmt::format("{} has unknown type id {}", who(), type_id));
    }
    t.dtype = info->type;
    if (t.dims[0] % info->block_elems != 0) {
      fail_here(fmt::format("row length {} is not a multiple of the {} block size {}", t.dims[0], info->name,
                            info->block_elems));
    }
    if (!checked_mul(elements / info->block_elems, info->block_bytes, t.nbytes)) {
      fail_here(fmt::format("byte size of dims {} as {} overflows a 64-bit integer", format_dims(t.dims), info->name));
    }
    t.offset = read<uint64_t>("tensor data offset");
    if (t.offset % out_.alignment != 0) {
      fail_here(fmt::format("data offset {} is not a multiple of the alignment {}", t.offset, out_.alignment));
    }
    if (!out_.tensor_index.try_emplace(t.name, out_.tensors.size()).second) {
      fail(fmt::format("duplicate tensor name '{}'", name));
    }
    out_.tensors.push_back(std::move(t));
  }

  void place_tensor_data() {
    out_.data_offset = align_up(pos_, out_.alignment);  // pos_ <= size_, no overflow
    out_.file_size = size_;
    const uint64_t section = out_.data_offset <= size_ ? size_ - out_.data_offset : 0;
    for (GgufTensor& t : out_.tensors) {
      subject_ = Subject::Tensor;
      subject_name_ = t.name;
      if (out_.data_offset > size_ || t.offset > section) {
        fail_here(fmt::format("data offset {} lies past file end {} (data section starts at {}; truncated file?)",
                              t.offset, size_, out_.data_offset));
      }
      const uint64_t start = out_.data_offset + t.offset;
      if (t.nbytes > section - t.offset) {
        fail_here(fmt::format("data [{}, {}) ends past file end {} (truncated file?)", start,
                              t.nbytes <= UINT64_MAX - start ? fmt::to_string(start + t.nbytes) : std::string("2^64+"),
                              size_));
      }
      t.data = data_ + start;
    }
    // Tensors must not share bytes: sort by offset and compare neighbours.
    std::vector<const GgufTensor*> by_offset;
    by_offset.reserve(out_.tensors.size());
    for (const GgufTensor& t : out_.tensors) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](const GgufTensor* a, const GgufTensor* b) {
      return a->offset != b->offset ? a->offset < b->offset : a->name < b->name;
    });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      const GgufTensor& a = *by_offset[i - 1];
      const GgufTensor& b = *by_offset[i];
      if (a.offset + a.nbytes > b.offset) {  // both ranges lie inside the file: no overflow
        fail(fmt::format("tensor '{}' data [{}, {}) overlaps tensor '{}' data [{}, {}) (offsets in the data section)",
                         a.name, a.offset, a.offset + a.nbytes, b.name, b.offset, b.offset + b.nbytes));
      }
    }
  }

  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const GgufLimits& limits_;
  GgufContents& out_;
  uint64_t metadata_budget_;
  uint64_t tensor_count_ = 0;
  uint64_t kv_count_ = 0;

  Subject subject_ = Subject::Header;
  uint64_t subject_index_ = 0;
  std::string_view subject_name_;  // points into the image, which outlives the parser
  std::vector<uint64_t> item_path_;
};

}  // namespace

void parse_gguf_image(const uint8_t* data, uint64_t size, const GgufLimits& limits, GgufContents& impl) {
  Parser(data, size, limits, impl).run();
}

}  // namespace baton
