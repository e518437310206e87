// GgufWriter: encodes metadata and tensors in GGUF v2/v3 layout. Input comes from our own
// code, so mistakes are std::invalid_argument (a bug) rather than GgufError (a bad file).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "model/gguf_format.h"

namespace baton {

static_assert(std::endian::native == std::endian::little, "the GGUF writer stores host integers as little-endian");

namespace {

using namespace gguf_detail;

[[noreturn]] void bad_value(std::string_view key, const std::string& problem) {
  throw std::invalid_argument(fmt::format("GGUF key '{}': {}", key, problem));
}

// Checks that the variant alternative matches the declared type and the number fits it.
void validate_value(std::string_view key, const GgufValue& v) {
  const std::string_view tn = gguf_type_name(v.type);
  if (!value_type_from_id(static_cast<uint32_t>(v.type))) bad_value(key, fmt::format("invalid type id {}", static_cast<uint32_t>(v.type)));
  if (is_integer_type(v.type)) {
    // Either integer alternative is accepted as long as the value fits the declared width.
    const uint64_t bits = scalar_size(v.type) * 8;
    if (const auto* u = std::get_if<uint64_t>(&v.v)) {
      const uint64_t max = is_unsigned_type(v.type) ? (bits == 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1)
                                                    : (uint64_t{1} << (bits - 1)) - 1;
      if (*u > max) bad_value(key, fmt::format("value {} does not fit in {}", *u, tn));
    } else if (const auto* i = std::get_if<int64_t>(&v.v)) {
      if (is_unsigned_type(v.type)) {
        if (*i < 0 || (bits < 64 && static_cast<uint64_t>(*i) > (uint64_t{1} << bits) - 1)) {
          bad_value(key, fmt::format("value {} does not fit in {}", *i, tn));
        }
      } else if (bits < 64) {
        const int64_t lo = -(int64_t{1} << (bits - 1)), hi = (int64_t{1} << (bits - 1)) - 1;
        if (*i < lo || *i > hi) bad_value(key, fmt::format("value {} does not fit in {}", *i, tn));
      }
    } else {
      bad_value(key, fmt::format("declared {} but holds a non-integer", tn));
    }
    return;
  }
  switch (v.type) {
    case GgufType::F32: case GgufType::F64:
      if (!std::holds_alternative<double>(v.v)) bad_value(key, fmt::format("declared {} but does not hold a double", tn));
      return;
    case GgufType::BOOL:
      if (!std::holds_alternative<bool>(v.v)) bad_value(key, "declared bool but does not hold a bool");
      return;
    case GgufType::STRING:
      if (!std::holds_alternative<std::string>(v.v)) bad_value(key, "declared string but does not hold a string");
      return;
    case GgufType::ARRAY: {
      const auto* arr = std::get_if<std::shared_ptr<GgufArray>>(&v.v);
      if (arr == nullptr || !*arr) bad_value(key, "declared array but holds no array");
      if (!value_type_from_id(static_cast<uint32_t>((*arr)->elem_type))) bad_value(key, "invalid array element type");
      for (const GgufValue& item : (*arr)->items) {
        if (item.type != (*arr)->elem_type) {
          bad_value(key, fmt::format("array of {} holds an item of type {}", gguf_type_name((*arr)->elem_type),
                                     gguf_type_name(item.type)));
        }
        validate_value(key, item);
      }
      return;
    }
    default: return;
  }
}

class Encoder {
 public:
  explicit Encoder(std::vector<uint8_t>& out) : out_(out) {}

  template <class T>
  void put(T v) {
    const size_t at = out_.size();
    out_.resize(at + sizeof(T));
    std::memcpy(out_.data() + at, &v, sizeof(T));
  }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void pad_to(uint64_t alignment) { out_.resize(static_cast<size_t>(align_up(out_.size(), alignment)), 0); }

  // Assumes validate_value passed.
  void put_value(const GgufValue& v) {
    auto as_u = [&] { return std::holds_alternative<uint64_t>(v.v) ? std::get<uint64_t>(v.v) : static_cast<uint64_t>(std::get<int64_t>(v.v)); };
    switch (v.type) {
      case GgufType::U8: put<uint8_t>(static_cast<uint8_t>(as_u())); break;
      case GgufType::I8: put<int8_t>(static_cast<int8_t>(as_u())); break;
      case GgufType::U16: put<uint16_t>(static_cast<uint16_t>(as_u())); break;
      case GgufType::I16: put<int16_t>(static_cast<int16_t>(as_u())); break;
      case GgufType::U32: put<uint32_t>(static_cast<uint32_t>(as_u())); break;
      case GgufType::I32: put<int32_t>(static_cast<int32_t>(as_u())); break;
      case GgufType::U64: put<uint64_t>(as_u()); break;
      case GgufType::I64: put<int64_t>(static_cast<int64_t>(as_u())); break;
      case GgufType::F32: put<float>(static_cast<float>(std::get<double>(v.v))); break;
      case GgufType::F64: put<double>(std::get<double>(v.v)); break;
      case GgufType::BOOL: put<uint8_t>(std::get<bool>(v.v) ? 1 : 0); break;
      case GgufType::STRING: put_string(std::get<std::string>(v.v)); break;
      case GgufType::ARRAY: {
        const GgufArray& arr = *std::get<std::shared_ptr<GgufArray>>(v.v);
        put<uint32_t>(static_cast<uint32_t>(arr.elem_type));
        put<uint64_t>(arr.items.size());
        for (const GgufValue& item : arr.items) put_value(item);
        break;
      }
    }
  }

 private:
  std::vector<uint8_t>& out_;
};

GgufValue array_value(GgufType elem, size_t n) {
  auto arr = std::make_shared<GgufArray>();
  arr->elem_type = elem;
  arr->items.reserve(n);
  return GgufValue{GgufType::ARRAY, std::move(arr)};
}

GgufArray& array_of(GgufValue& v) { return *std::get<std::shared_ptr<GgufArray>>(v.v); }

// The alignment the file will declare: general.alignment when set, else the constructor's.
uint64_t effective_alignment(const std::vector<std::pair<std::string, GgufValue>>& kv, uint64_t fallback) {
  for (const auto& [key, value] : kv) {
    if (key == kAlignmentKey) return std::get<uint64_t>(value.v);
  }
  return fallback;
}

}  // namespace

GgufWriter::GgufWriter(uint32_t version, uint64_t alignment) : version_(version), alignment_(alignment) {
  if (version != 2 && version != 3) throw std::invalid_argument(fmt::format("GGUF writer: version {} (expected 2 or 3)", version));
  if (!is_power_of_two(alignment) || alignment > UINT32_MAX) {
    throw std::invalid_argument(fmt::format("GGUF writer: alignment {} is not a power of two below 2^32", alignment));
  }
}

void GgufWriter::set(std::string key, GgufValue value) {
  if (key.empty()) throw std::invalid_argument("GGUF writer: empty key");
  validate_value(key, value);
  if (key == kAlignmentKey) {
    // validate_value accepts either integer alternative; keep the canonical one.
    if (const auto* i = std::get_if<int64_t>(&value.v)) value.v = static_cast<uint64_t>(*i);
    const auto* a = std::get_if<uint64_t>(&value.v);
    if (value.type != GgufType::U32 || a == nullptr || !is_power_of_two(*a)) {
      throw std::invalid_argument("GGUF writer: general.alignment must be a u32 power of two");
    }
  }
  for (auto& [k, v] : kv_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  kv_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::set_string(std::string key, std::string value) { set(std::move(key), GgufValue{GgufType::STRING, std::move(value)}); }
void GgufWriter::set_u32(std::string key, uint32_t value) { set(std::move(key), GgufValue{GgufType::U32, uint64_t{value}}); }
void GgufWriter::set_i32(std::string key, int32_t value) { set(std::move(key), GgufValue{GgufType::I32, int64_t{value}}); }
void GgufWriter::set_u64(std::string key, uint64_t value) { set(std::move(key), GgufValue{GgufType::U64, value}); }
void GgufWriter::set_f32(std::string key, float value) { set(std::move(key), GgufValue{GgufType::F32, double{value}}); }
void GgufWriter::set_bool(std::string key, bool value) { set(std::move(key), GgufValue{GgufType::BOOL, value}); }

void GgufWriter::set_string_array(std::string key, std::vector<std::string> values) {
  GgufValue v = array_value(GgufType::STRING, values.size());
  for (std::string& s : values) array_of(v).items.push_back(GgufValue{GgufType::STRING, std::move(s)});
  set(std::move(key), std::move(v));
}

void GgufWriter::set_f32_array(std::string key, const std::vector<float>& values) {
  GgufValue v = array_value(GgufType::F32, values.size());
  for (float x : values) {
    // Filled in place: building a temporary GgufValue here trips a GCC 12 false positive.
    GgufValue& item = array_of(v).items.emplace_back();
    item.type = GgufType::F32;
    item.v = double{x};
  }
  set(std::move(key), std::move(v));
}

void GgufWriter::set_i32_array(std::string key, const std::vector<int32_t>& values) {
  GgufValue v = array_value(GgufType::I32, values.size());
  for (int32_t x : values) {
    // Filled in place: building a temporary GgufValue here trips a GCC 12 false positive.
    GgufValue& item = array_of(v).items.emplace_back();
    item.type = GgufType::I32;
    item.v = int64_t{x};
  }
  set(std::move(key), std::move(v));
}

uint64_t GgufWriter::check_tensor(const std::string& name, const std::vector<uint64_t>& dims, DType dtype) const {
  auto bad = [&](const std::string& problem) {
    throw std::invalid_argument(fmt::format("GGUF writer: tensor '{}': {}", name, problem));
  };
  if (name.empty()) bad("empty name");
  for (const PendingTensor& t : tensors_) {
    if (t.name == name) bad("added twice");
  }
  if (dims.empty() || dims.size() > 4) bad(fmt::format("{} dimensions, expected 1 to 4", dims.size()));
  uint64_t elements = 1;
  for (uint64_t d : dims) {
    if (d == 0) bad(fmt::format("zero dimension in {}", format_dims(dims)));
    if (!checked_mul(elements, d, elements)) bad(fmt::format("element count of {} overflows", format_dims(dims)));
  }
  const DTypeInfo info = dtype_info(dtype);
  if (dims[0] % info.block_elems != 0) {
    bad(fmt::format("row length {} is not a multiple of the {} block size {}", dims[0], info.name, info.block_elems));
  }
  uint64_t nbytes = 0;
  if (!checked_mul(elements / info.block_elems, info.block_bytes, nbytes)) bad("byte size overflows");
  return nbytes;
}

void GgufWriter::add_tensor(std::string name, std::vector<uint64_t> dims, DType dtype, std::vector<uint8_t> data) {
  const uint64_t nbytes = check_tensor(name, dims, dtype);
  if (data.size() != nbytes) {
    throw std::invalid_argument(fmt::format("GGUF writer: tensor '{}': {} {} needs {} bytes of data, got {}", name,
                                            format_dims(dims), dtype_name(dtype), nbytes, data.size()));
  }
  tensors_.push_back({std::move(name), std::move(dims), dtype, nbytes, std::move(data), {}});
}

void GgufWriter::add_tensor_filled(std::string name, std::vector<uint64_t> dims, DType dtype, TensorFill fill) {
  if (!fill) throw std::invalid_argument(fmt::format("GGUF writer: tensor '{}': no fill function", name));
  const uint64_t nbytes = check_tensor(name, dims, dtype);
  tensors_.push_back({std::move(name), std::move(dims), dtype, nbytes, {}, std::move(fill)});
}

std::span<const uint8_t> GgufWriter::tensor_bytes(const PendingTensor& t, std::vector<uint8_t>& scratch) const {
  if (!t.fill) return t.data;
  scratch.assign(static_cast<size_t>(t.nbytes), 0);
  t.fill(std::span<uint8_t>(scratch));
  return scratch;
}

namespace {

// Everything before the data section (header, metadata, tensor infos, padding).
std::vector<uint8_t> encode_header(uint32_t version, uint64_t ctor_alignment,
                                   const std::vector<std::pair<std::string, GgufValue>>& kv,
                                   const auto& tensors, uint64_t& alignment_out) {
  const uint64_t alignment = effective_alignment(kv, ctor_alignment);
  // Without the key a reader assumes 32, so a different alignment must be declared.
  const bool declare_alignment = alignment != kDefaultAlignment && effective_alignment(kv, 0) == 0;
  std::vector<uint8_t> out;
  Encoder enc(out);
  uint32_t magic = 0;
  std::memcpy(&magic, kMagic, 4);
  enc.put<uint32_t>(magic);
  enc.put<uint32_t>(version);
  enc.put<uint64_t>(tensors.size());
  enc.put<uint64_t>(kv.size() + (declare_alignment ? 1 : 0));
  for (const auto& [key, value] : kv) {
    enc.put_string(key);
    enc.put<uint32_t>(static_cast<uint32_t>(value.type));
    enc.put_value(value);
  }
  if (declare_alignment) {
    enc.put_string(kAlignmentKey);
    enc.put<uint32_t>(static_cast<uint32_t>(GgufType::U32));
    enc.put<uint32_t>(static_cast<uint32_t>(alignment));
  }
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    enc.put_string(t.name);
    enc.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) enc.put<uint64_t>(d);
    enc.put<uint32_t>(static_cast<uint32_t>(t.dtype));
    enc.put<uint64_t>(offset);
    offset = align_up(offset + t.nbytes, alignment);
  }
  enc.pad_to(alignment);
  alignment_out = alignment;
  return out;
}

void write_all(int fd, const uint8_t* p, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(fmt::format("{}: write failed: {}", path, std::strerror(errno)));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

std::vector<uint8_t> GgufWriter::serialize() const {
  uint64_t alignment = 0;
  std::vector<uint8_t> out = encode_header(version_, alignment_, kv_, tensors_, alignment);
  std::vector<uint8_t> scratch;
  for (const PendingTensor& t : tensors_) {
    const std::span<const uint8_t> bytes = tensor_bytes(t, scratch);
    out.insert(out.end(), bytes.begin(), bytes.end());
    out.resize(static_cast<size_t>(align_up(out.size(), alignment)), 0);
  }
  return out;
}

void GgufWriter::write(const std::string& path) const {
  uint64_t alignment = 0;
  const std::vector<uint8_t> header = encode_header(version_, alignment_, kv_, tensors_, alignment);
  // Write beside the target and rename over it, so a reader never sees a half-written file
  // and a crash leaves the old file intact.
  std::string tmp = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw std::runtime_error(fmt::format("{}: cannot create temporary file: {}", path, std::strerror(errno)));
  bool fd_open = true;
  try {
    ::fchmod(fd, 0644);  // mkstemp creates 0600; a model file is not secret
    write_all(fd, header.data(), header.size(), tmp);
    const std::vector<uint8_t> zeros(static_cast<size_t>(alignment), 0);
    std::vector<uint8_t> scratch;  // one produced tensor at a time
    for (const PendingTensor& t : tensors_) {
      const std::span<const uint8_t> bytes = tensor_bytes(t, scratch);
      write_all(fd, bytes.data(), bytes.size(), tmp);
      const uint64_t pad = align_up(bytes.size(), alignment) - bytes.size();
      write_all(fd, zeros.data(), static_cast<size_t>(pad), tmp);
    }
    if (::fsync(fd) != 0) throw std::runtime_error(fmt::format("{}: fsync failed: {}", tmp, std::strerror(errno)));
    fd_open = false;
    if (::close(fd) != 0) throw std::runtime_error(fmt::format("{}: close failed: {}", tmp, std::strerror(errno)));
  } catch (...) {
    if (fd_open) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error(fmt::format("{}: cannot rename temporary file into place: {}", path, std::strerror(err)));
  }
}

}  // namespace baton
