// Builds GGUF byte images by hand, field by field, independently of GgufWriter: the
// reference encoding the writer is compared against, and the source of deliberately
// broken files for the reader tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace baton::test {

// Little-endian byte appender that remembers named positions for later patching.
struct RawBytes {
  std::vector<uint8_t> b;
  std::map<std::string, size_t> marks;

  void mark(const std::string& name) { marks[name] = b.size(); }
  // resize + memcpy rather than insert: GCC 12 reports false overflows on small inserts.
  void bytes(const void* p, size_t n) {
    const size_t at = b.size();
    b.resize(at + n);
    if (n) std::memcpy(b.data() + at, p, n);
  }
  template <class T>
  void put(T v) {
    bytes(&v, sizeof(T));
  }
  void u8(uint8_t v) { put(v); }
  void u32(uint32_t v) { put(v); }
  void u64(uint64_t v) { put(v); }
  void str(std::string_view s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) {
    while (b.size() % alignment != 0) b.push_back(0);
  }
};

template <class T>
void patch(std::vector<uint8_t>& bytes, size_t at, T v) {
  std::memcpy(bytes.data() + at, &v, sizeof(T));
}

// GGUF value type ids (spec numbering, written out here rather than taken from gguf.h).
enum RawType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

struct RawTensor {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type = 0;   // ggml type id
  uint64_t offset = 0;  // relative to the data section
  uint64_t nbytes = 0;  // bytes of data to place (pattern-filled)
};

// A whole file: header, key-value pairs (each written by a callback), tensor infos,
// padding to `alignment`, then each tensor's bytes at data_start + offset. The file ends
// right after the furthest tensor byte.
struct RawFile {
  uint32_t version = 3;
  std::vector<std::function<void(RawBytes&)>> kvs;
  std::vector<RawTensor> tensors;
  uint64_t alignment = 32;
  std::optional<uint64_t> tensor_count;  // override the header counts
  std::optional<uint64_t> kv_count;

  std::vector<uint8_t> build(std::map<std::string, size_t>* marks_out = nullptr) const {
    RawBytes r;
    r.bytes("GGUF", 4);
    r.mark("version");
    r.u32(version);
    r.mark("tensor_count");
    r.u64(tensor_count.value_or(tensors.size()));
    r.mark("kv_count");
    r.u64(kv_count.value_or(kvs.size()));
    for (size_t i = 0; i < kvs.size(); ++i) {
      r.mark("kv" + std::to_string(i));
      kvs[i](r);
    }
    for (size_t i = 0; i < tensors.size(); ++i) {
      const RawTensor& t = tensors[i];
      const std::string p = "t" + std::to_string(i) + ".";
      r.mark(p + "name");
      r.str(t.name);
      r.mark(p + "n_dims");
      r.u32(static_cast<uint32_t>(t.dims.size()));
      for (uint64_t d : t.dims) r.u64(d);
      r.mark(p + "type");
      r.u32(t.type);
      r.mark(p + "offset");
      r.u64(t.offset);
    }
    r.pad_to(alignment);
    const size_t data_start = r.b.size();
    r.marks["data"] = data_start;
    uint64_t end = 0;
    for (const RawTensor& t : tensors) end = std::max(end, t.offset + t.nbytes);
    r.b.resize(data_start + end, 0);
    for (size_t i = 0; i < tensors.size(); ++i) {
      const RawTensor& t = tensors[i];
      for (uint64_t j = 0; j < t.nbytes; ++j) r.b[data_start + t.offset + j] = static_cast<uint8_t>(j * 31 + i * 7 + 1);
    }
    if (marks_out) *marks_out = r.marks;
    return r.b;
  }
};

// Key-value writers.
inline std::function<void(RawBytes&)> kv_u32(std::string key, uint32_t v) {
  return [=](RawBytes& r) { r.str(key); r.u32(kU32); r.mark(key + "=value"); r.u32(v); };
}
inline std::function<void(RawBytes&)> kv_u64(std::string key, uint64_t v) {
  return [=](RawBytes& r) { r.str(key); r.u32(kU64); r.mark(key + "=value"); r.u64(v); };
}
inline std::function<void(RawBytes&)> kv_string(std::string key, std::string v) {
  return [=](RawBytes& r) {
    r.mark(key + "=keylen");
    r.str(key);
    r.mark(key + "=type");
    r.u32(kString);
    r.mark(key + "=value");
    r.str(v);
  };
}
inline std::function<void(RawBytes&)> kv_bool(std::string key, uint8_t v) {
  return [=](RawBytes& r) { r.str(key); r.u32(kBool); r.mark(key + "=value"); r.u8(v); };
}
inline std::function<void(RawBytes&)> kv_string_array(std::string key, std::vector<std::string> items) {
  return [=](RawBytes& r) {
    r.str(key);
    r.u32(kArray);
    r.mark(key + "=elem_type");
    r.u32(kString);
    r.mark(key + "=count");
    r.u64(items.size());
    for (const auto& s : items) r.str(s);
  };
}
inline std::function<void(RawBytes&)> kv_f32_array(std::string key, std::vector<float> items) {
  return [=](RawBytes& r) {
    r.str(key);
    r.u32(kArray);
    r.u32(kF32);
    r.mark(key + "=count");
    r.u64(items.size());
    for (float x : items) r.put(x);
  };
}
// An array of arrays of i32.
inline std::function<void(RawBytes&)> kv_nested_i32(std::string key, std::vector<std::vector<int32_t>> items) {
  return [=](RawBytes& r) {
    r.str(key);
    r.u32(kArray);
    r.u32(kArray);
    r.u64(items.size());
    for (const auto& inner : items) {
      r.u32(kI32);
      r.u64(inner.size());
      for (int32_t x : inner) r.put(x);
    }
  };
}

// The valid reference file the broken variants start from: a few keys of different
// kinds and three tensors of three dtypes (f32, q8_0, f16). Its last tensor ends exactly
// on the alignment, so every strict prefix of it is a truncated file.
inline RawFile reference_file() {
  RawFile f;
  f.kvs = {
      kv_string("general.architecture", "llama"),
      kv_u32("general.alignment", 32),
      kv_u32("test.count", 7),
      kv_string_array("tokenizer.ggml.tokens", {"a", "bc", "def"}),
      kv_f32_array("test.scores", {0.5f, -1.0f, 2.0f}),
      kv_nested_i32("test.nested", {{1, 2}, {3}}),
      kv_bool("test.flag", 1),
  };
  f.tensors = {
      {"token_embd.weight", {8, 4}, 0, 0, 128},          // f32: 32 * 4
      {"blk.0.attn_q.weight", {32, 2}, 8, 128, 68},      // q8_0: 2 blocks * 34
      {"output.weight", {16, 2}, 1, 224, 64},            // f16: 32 * 2, ends at 288 = 9 * 32
  };
  return f;
}

}  // namespace baton::test
