// GgufFile: opening (mmap) and the typed accessors over the validated contents.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <limits>

#include "model/gguf_format.h"
#include "model/gguf_impl.h"

namespace baton {

using namespace gguf_detail;

uint64_t GgufTensor::elements() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;  // validated by the reader not to overflow
  return n;
}

uint64_t GgufTensor::rows() const {
  uint64_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
  return n;
}

struct GgufFile::Impl : GgufContents {
  // Exactly one of these holds the image: a read-only private mapping (open) or an owned
  // copy (parse). Tensor data pointers point into it.
  void* mapping = nullptr;
  size_t mapping_size = 0;
  // Page-aligned like a mapping, so tensor data is as aligned in memory as in the file.
  std::unique_ptr<uint8_t, decltype(&std::free)> owned{nullptr, &std::free};

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (mapping != nullptr) ::munmap(mapping, mapping_size);
  }
};

GgufFile::GgufFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

GgufFile GgufFile::open(const std::string& path, const GgufLimits& limits) {
  auto impl = std::make_unique<Impl>();
  impl->label = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw GgufError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw GgufError(fmt::format("{}: cannot stat: {}", path, std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw GgufError(fmt::format("{}: not a regular file", path));
  }
  if (st.st_size == 0) {
    ::close(fd);
    throw GgufError(fmt::format("{}: file is empty, not a GGUF file", path));
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  // Read-only private mapping: parsing touches only the header pages; tensor data is paged
  // in later by whoever uses it.
  void* addr = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping keeps the file referenced
  if (addr == MAP_FAILED) throw GgufError(fmt::format("{}: cannot map {} bytes: {}", path, size, std::strerror(map_errno)));
  impl->mapping = addr;
  impl->mapping_size = static_cast<size_t>(size);
  parse_gguf_image(static_cast<const uint8_t*>(addr), size, limits, *impl);
  return GgufFile(std::move(impl));
}

GgufFile GgufFile::parse(std::vector<uint8_t> bytes, const std::string& label, const GgufLimits& limits) {
  auto impl = std::make_unique<Impl>();
  impl->label = label;
  if (!bytes.empty()) {
    constexpr size_t kPage = 4096;
    const size_t padded = (bytes.size() + kPage - 1) / kPage * kPage;
    impl->owned.reset(static_cast<uint8_t*>(std::aligned_alloc(kPage, padded)));
    if (!impl->owned) throw std::bad_alloc();
    std::memcpy(impl->owned.get(), bytes.data(), bytes.size());
  }
  const uint64_t size = bytes.size();
  bytes = {};  // the copy is all we keep
  parse_gguf_image(impl->owned.get(), size, limits, *impl);
  return GgufFile(std::move(impl));
}

const std::string& GgufFile::path() const { return impl_->label; }
uint32_t GgufFile::version() const { return impl_->version; }
uint64_t GgufFile::alignment() const { return impl_->alignment; }
uint64_t GgufFile::file_size() const { return impl_->file_size; }
const std::map<std::string, GgufValue>& GgufFile::metadata() const { return impl_->metadata; }
const std::vector<GgufTensor>& GgufFile::tensors() const { return impl_->tensors; }

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = impl_->metadata.find(std::string(key));
  return it == impl_->metadata.end() ? nullptr : &it->second;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = impl_->tensor_index.find(name);
  return it == impl_->tensor_index.end() ? nullptr : &impl_->tensors[it->second];
}

const GgufTensor& GgufFile::require_tensor(std::string_view name, const std::vector<uint64_t>& dims) const {
  const GgufTensor* t = find_tensor(name);
  if (t == nullptr) throw GgufError(fmt::format("{}: tensor '{}' is missing", path(), name));
  if (t->dims != dims) {
    throw GgufError(fmt::format("{}: tensor '{}': expected dims {} (ggml order), found {}", path(), name,
                                format_dims(dims), format_dims(t->dims)));
  }
  return *t;
}

namespace {

// "u32", "array of string", "array of array"
std::string describe_type(const GgufValue& v) {
  if (v.type != GgufType::ARRAY) return std::string(gguf_type_name(v.type));
  const auto* arr = std::get_if<std::shared_ptr<GgufArray>>(&v.v);
  if (arr == nullptr || !*arr) return "array";
  return fmt::format("array of {}", gguf_type_name((*arr)->elem_type));
}

[[noreturn]] void wrong_type(const GgufFile& f, std::string_view key, const GgufValue& v, std::string_view expected) {
  throw GgufError(fmt::format("{}: key '{}' has type {}, expected {}", f.path(), key, describe_type(v), expected));
}

const GgufValue& require_value(const GgufFile& f, std::string_view key) {
  const GgufValue* v = f.find(key);
  if (v == nullptr) throw GgufError(fmt::format("{}: key '{}' is missing", f.path(), key));
  return *v;
}

// Integer values as the reader widened them; nullopt-like flag when not an integer.
bool integer_parts(const GgufValue& v, bool& negative, uint64_t& magnitude_or_value, int64_t& signed_value) {
  if (!is_integer_type(v.type)) return false;
  if (const auto* u = std::get_if<uint64_t>(&v.v)) {
    negative = false;
    magnitude_or_value = *u;
    return true;
  }
  if (const auto* i = std::get_if<int64_t>(&v.v)) {
    negative = *i < 0;
    signed_value = *i;
    magnitude_or_value = static_cast<uint64_t>(*i);
    return true;
  }
  return false;
}

uint64_t to_u64(const GgufFile& f, std::string_view key, const GgufValue& v, const char* where = "") {
  bool negative = false;
  uint64_t u = 0;
  int64_t i = 0;
  if (!integer_parts(v, negative, u, i)) wrong_type(f, key, v, "an integer");
  if (negative) throw GgufError(fmt::format("{}: key '{}'{}: value {} is negative, expected an unsigned integer", f.path(), key, where, i));
  return u;
}

int64_t to_i64(const GgufFile& f, std::string_view key, const GgufValue& v, const std::string& where = "") {
  bool negative = false;
  uint64_t u = 0;
  int64_t i = 0;
  if (!integer_parts(v, negative, u, i)) wrong_type(f, key, v, "an integer");
  if (std::holds_alternative<int64_t>(v.v)) return i;
  if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    throw GgufError(fmt::format("{}: key '{}'{}: value {} does not fit in a signed 64-bit integer", f.path(), key, where, u));
  }
  return static_cast<int64_t>(u);
}

double to_f64(const GgufFile& f, std::string_view key, const GgufValue& v) {
  if (is_float_type(v.type)) {
    if (const auto* d = std::get_if<double>(&v.v)) return *d;
  }
  if (is_integer_type(v.type)) {
    if (const auto* u = std::get_if<uint64_t>(&v.v)) return static_cast<double>(*u);
    if (const auto* i = std::get_if<int64_t>(&v.v)) return static_cast<double>(*i);
  }
  wrong_type(f, key, v, "a number");
}

const GgufArray& require_array(const GgufFile& f, std::string_view key, const GgufValue& v, std::string_view expected) {
  const auto* arr = std::get_if<std::shared_ptr<GgufArray>>(&v.v);
  if (v.type != GgufType::ARRAY || arr == nullptr || !*arr) wrong_type(f, key, v, expected);
  return **arr;
}

}  // namespace

std::string GgufFile::get_string(std::string_view key) const {
  const GgufValue& v = require_value(*this, key);
  const auto* s = std::get_if<std::string>(&v.v);
  if (v.type != GgufType::STRING || s == nullptr) wrong_type(*this, key, v, "string");
  return *s;
}

uint64_t GgufFile::get_u64(std::string_view key) const { return to_u64(*this, key, require_value(*this, key)); }
int64_t GgufFile::get_i64(std::string_view key) const { return to_i64(*this, key, require_value(*this, key)); }
double GgufFile::get_f64(std::string_view key) const { return to_f64(*this, key, require_value(*this, key)); }

bool GgufFile::get_bool(std::string_view key) const {
  const GgufValue& v = require_value(*this, key);
  const auto* b = std::get_if<bool>(&v.v);
  if (v.type != GgufType::BOOL || b == nullptr) wrong_type(*this, key, v, "bool");
  return *b;
}

std::optional<std::string> GgufFile::opt_string(std::string_view key) const {
  if (find(key) == nullptr) return std::nullopt;
  return get_string(key);
}
std::optional<uint64_t> GgufFile::opt_u64(std::string_view key) const {
  if (find(key) == nullptr) return std::nullopt;
  return get_u64(key);
}
std::optional<double> GgufFile::opt_f64(std::string_view key) const {
  if (find(key) == nullptr) return std::nullopt;
  return get_f64(key);
}
std::optional<bool> GgufFile::opt_bool(std::string_view key) const {
  if (find(key) == nullptr) return std::nullopt;
  return get_bool(key);
}

std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
  const GgufValue& v = require_value(*this, key);
  const GgufArray& arr = require_array(*this, key, v, "array of string");
  if (arr.elem_type != GgufType::STRING) wrong_type(*this, key, v, "array of string");
  std::vector<std::string> out;
  out.reserve(arr.items.size());
  for (const GgufValue& item : arr.items) out.push_back(std::get<std::string>(item.v));
  return out;
}

std::vector<double> GgufFile::get_f64_array(std::string_view key) const {
  const GgufValue& v = require_value(*this, key);
  const GgufArray& arr = require_array(*this, key, v, "array of f32 or f64");
  if (!is_float_type(arr.elem_type)) wrong_type(*this, key, v, "array of f32 or f64");
  std::vector<double> out;
  out.reserve(arr.items.size());
  for (const GgufValue& item : arr.items) out.push_back(std::get<double>(item.v));
  return out;
}

std::vector<int64_t> GgufFile::get_i64_array(std::string_view key) const {
  const GgufValue& v = require_value(*this, key);
  const GgufArray& arr = require_array(*this, key, v, "array of integers");
  if (!is_integer_type(arr.elem_type)) wrong_type(*this, key, v, "array of integers");
  std::vector<int64_t> out;
  out.reserve(arr.items.size());
  for (size_t i = 0; i < arr.items.size(); ++i) {
    out.push_back(to_i64(*this, key, arr.items[i], fmt::format(" item {}", i)));
  }
  return out;
}

}  // namespace baton
