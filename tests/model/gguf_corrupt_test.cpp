// The reader against a corpus of broken files built from a valid hand-encoded image:
// every one must fail with a GgufError naming the problem, and random damage must never
// crash the reader.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

#include "model/gguf.h"
#include "gguf_raw_builder.h"

namespace baton {
namespace {

using test::RawFile;
using test::RawTensor;
using test::reference_file;

const std::string kLabel = "broken.gguf";

// Parses and returns the GgufError message; fails the test if parsing succeeds or throws
// anything else.
std::string parse_error(std::vector<uint8_t> bytes, const GgufLimits& limits = {}) {
  try {
    GgufFile::parse(std::move(bytes), kLabel, limits);
  } catch (const GgufError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected GgufError, got another exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected GgufError, but the file parsed";
  return {};
}

// The message names the file first and contains every expected phrase.
void expect_error(const std::vector<uint8_t>& bytes, std::initializer_list<std::string> phrases,
                  const GgufLimits& limits = {}) {
  const std::string msg = parse_error(bytes, limits);
  EXPECT_EQ(msg.rfind(kLabel + ": ", 0), 0u) << "message does not start with the label: " << msg;
  for (const std::string& p : phrases) EXPECT_NE(msg.find(p), std::string::npos) << "missing '" << p << "' in: " << msg;
}

std::vector<uint8_t> build(const RawFile& f, std::map<std::string, size_t>* marks = nullptr) { return f.build(marks); }

TEST(GgufCorrupt, ReferenceFileParses) {
  // The corpus is only meaningful if its starting point is valid.
  const GgufFile f = GgufFile::parse(build(reference_file()), kLabel);
  EXPECT_EQ(f.version(), 3u);
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_u64("test.count"), 7u);
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens"), (std::vector<std::string>{"a", "bc", "def"}));
  EXPECT_EQ(f.tensors()[1].dtype, DType::Q8_0);
  EXPECT_EQ(f.tensors()[1].nbytes, 68u);
  EXPECT_EQ(f.file_size(), build(reference_file()).size());
}

TEST(GgufCorrupt, EveryTruncationIsRejected) {
  const std::vector<uint8_t> full = build(reference_file());
  for (size_t len = 0; len < full.size(); ++len) {
    const std::string msg = parse_error(std::vector<uint8_t>(full.begin(), full.begin() + static_cast<long>(len)));
    ASSERT_NE(msg.find("truncated"), std::string::npos) << "prefix of " << len << " bytes: " << msg;
    ASSERT_EQ(msg.rfind(kLabel + ": ", 0), 0u) << msg;
  }
}

TEST(GgufCorrupt, BadMagic) {
  auto bytes = build(reference_file());
  bytes[3] = 'X';
  expect_error(bytes, {"not a GGUF file: magic is 'GGUX'"});
  bytes[0] = 0x00;
  expect_error(bytes, {"magic is '\\x00GUX'"});
}

TEST(GgufCorrupt, UnsupportedVersions) {
  RawFile f = reference_file();
  f.version = 1;
  expect_error(build(f), {"version 1", "not supported"});
  f.version = 4;
  expect_error(build(f), {"unsupported GGUF version 4", "expected 2 or 3"});
  f.version = 0x03000000;  // a big-endian v3 file read as little-endian
  expect_error(build(f), {"big-endian"});
  f.version = 2;
  EXPECT_EQ(GgufFile::parse(build(f), kLabel).version(), 2u);
}

TEST(GgufCorrupt, HugeCounts) {
  std::map<std::string, size_t> m;
  const auto good = build(reference_file(), &m);
  auto bytes = good;
  test::patch<uint64_t>(bytes, m["tensor_count"], uint64_t{1} << 40);
  expect_error(bytes, {"tensor count 1099511627776 exceeds the limit of 65536"});
  bytes = good;
  test::patch<uint64_t>(bytes, m["kv_count"], ~uint64_t{0});
  expect_error(bytes, {"metadata key count 18446744073709551615 exceeds the limit"});
  // Within the limits, but more entries than the remaining bytes could hold.
  bytes = good;
  test::patch<uint64_t>(bytes, m["tensor_count"], 60000);
  expect_error(bytes, {"60000 tensors", "truncated file or corrupt counts"});
  // Tighter caller limits apply too.
  GgufLimits limits;
  limits.max_tensors = 2;
  expect_error(good, {"tensor count 3 exceeds the limit of 2"}, limits);
}

TEST(GgufCorrupt, HugeStringLengths) {
  std::map<std::string, size_t> m;
  const auto good = build(reference_file(), &m);
  auto bytes = good;
  test::patch<uint64_t>(bytes, m["general.architecture=value"], uint64_t{1} << 62);
  expect_error(bytes, {"key 'general.architecture'", "string length 4611686018427387904 exceeds the limit"});
  // Under the limit but past the end of the file.
  bytes = good;
  test::patch<uint64_t>(bytes, m["general.architecture=value"], 100000);
  expect_error(bytes, {"key 'general.architecture'", "truncated file", "needs 100000 bytes"});
  // The key name's own length.
  bytes = good;
  test::patch<uint64_t>(bytes, m["general.architecture=keylen"], ~uint64_t{0});
  expect_error(bytes, {"key #0", "key length 18446744073709551615 exceeds the limit"});
  // A tensor name.
  bytes = good;
  test::patch<uint64_t>(bytes, m["t1.name"], uint64_t{1} << 33);
  expect_error(bytes, {"tensor #1", "tensor name length 8589934592 exceeds the limit"});
  GgufLimits limits;
  limits.max_string_bytes = 4;
  RawFile small;
  small.kvs = {test::kv_string("k", "0123456789")};
  expect_error(build(small), {"key 'k'", "string length 10 exceeds the limit of 4"}, limits);
  expect_error(good, {"key #0", "key length 20 exceeds the limit of 4"}, limits);
}

TEST(GgufCorrupt, HugeArrayLengths) {
  std::map<std::string, size_t> m;
  const auto good = build(reference_file(), &m);
  auto bytes = good;
  test::patch<uint64_t>(bytes, m["tokenizer.ggml.tokens=count"], uint64_t{1} << 40);
  expect_error(bytes, {"key 'tokenizer.ggml.tokens'", "array length 1099511627776 exceeds the limit"});
  bytes = good;
  test::patch<uint64_t>(bytes, m["tokenizer.ggml.tokens=count"], 1000000);
  expect_error(bytes, {"key 'tokenizer.ggml.tokens'", "array of 1000000 string items needs at least 8000000 bytes"});
  bytes = good;
  test::patch<uint64_t>(bytes, m["test.scores=count"], 5000);
  expect_error(bytes, {"key 'test.scores'", "array of 5000 f32 items needs at least 20000 bytes"});
  GgufLimits limits;
  limits.max_array_items = 2;
  expect_error(good, {"key 'tokenizer.ggml.tokens'", "array length 3 exceeds the limit of 2"}, limits);
}

TEST(GgufCorrupt, BadValueTypes) {
  std::map<std::string, size_t> m;
  const auto good = build(reference_file(), &m);
  auto bytes = good;
  test::patch<uint32_t>(bytes, m["general.architecture=type"], 13);
  expect_error(bytes, {"key 'general.architecture'", "unknown value type 13"});
  bytes = good;
  test::patch<uint32_t>(bytes, m["tokenizer.ggml.tokens=elem_type"], 0xdeadbeef);
  expect_error(bytes, {"key 'tokenizer.ggml.tokens'", "unknown array element type 3735928559"});
  bytes = good;
  test::patch<uint8_t>(bytes, m["test.flag=value"], 2);
  expect_error(bytes, {"key 'test.flag'", "bool value is 2, expected 0 or 1"});
}

TEST(GgufCorrupt, ArrayNestingDepth) {
  RawFile f = reference_file();
  // array<array<array<u8>>>: three levels, the default limit is two.
  f.kvs.push_back([](test::RawBytes& r) {
    r.str("test.deep");
    r.u32(test::kArray);
    r.u32(test::kArray);
    r.u64(1);
    r.u32(test::kArray);
    r.u64(1);
    r.u32(test::kU8);
    r.u64(1);
    r.u8(5);
  });
  expect_error(build(f), {"key 'test.deep' item 0.0", "arrays nested 3 deep, the limit is 2"});
  GgufLimits limits;
  limits.max_array_depth = 3;
  EXPECT_NO_THROW(GgufFile::parse(build(f), kLabel, limits));
}

TEST(GgufCorrupt, BadTensorTypes) {
  RawFile f = reference_file();
  f.tensors[1].type = 3;  // q4_1: not supported (q5_1, id 7, is)
  expect_error(build(f), {"tensor 'blk.0.attn_q.weight' has type q4_1 (id 3), which baton does not support"});
  f.tensors[1].type = 23;
  expect_error(build(f), {"tensor 'blk.0.attn_q.weight' has type iq4_xs (id 23)"});
  f.tensors[1].type = 200;
  expect_error(build(f), {"tensor 'blk.0.attn_q.weight' has unknown type id 200"});
}

TEST(GgufCorrupt, BadShapes) {
  RawFile f = reference_file();
  f.tensors[0].dims = {2, 2, 2, 2, 2};
  expect_error(build(f), {"tensor 'token_embd.weight'", "has 5 dimensions, expected 1 to 4"});
  f.tensors[0].dims = {};
  expect_error(build(f), {"tensor 'token_embd.weight'", "has 0 dimensions"});
  f.tensors[0].dims = {8, 0};
  expect_error(build(f), {"tensor 'token_embd.weight'", "dimension 1 is 0 in dims [8, 0]"});
  f.tensors[0].dims = {uint64_t{1} << 32, uint64_t{1} << 32};
  expect_error(build(f), {"tensor 'token_embd.weight'", "element count of dims [4294967296, 4294967296] overflows"});
  f = reference_file();
  f.tensors[1].dims = {33, 2};  // q8_0 rows hold whole 32-element blocks
  expect_error(build(f), {"tensor 'blk.0.attn_q.weight'", "row length 33 is not a multiple of the q8_0 block size 32"});
}

TEST(GgufCorrupt, TensorDataOutsideFile) {
  RawFile f = reference_file();
  const auto good = build(f);
  std::map<std::string, size_t> m;
  auto bytes = build(f, &m);
  test::patch<uint64_t>(bytes, m["t2.offset"], uint64_t{1} << 40);
  expect_error(bytes, {"tensor 'output.weight'", "data offset 1099511627776 lies past file end"});
  bytes = build(f, &m);
  test::patch<uint64_t>(bytes, m["t2.offset"], ~uint64_t{31});  // aligned, near 2^64
  expect_error(bytes, {"tensor 'output.weight'", "past file end"});
  // Offset inside the file, data running past its end.
  bytes = build(f, &m);
  test::patch<uint64_t>(bytes, m["t2.offset"], 256);
  const uint64_t start = m["data"] + 256;
  expect_error(bytes, {"tensor 'output.weight'",
                       "data [" + std::to_string(start) + ", " + std::to_string(start + 64) + ") ends past file end " +
                           std::to_string(good.size())});
  // Dims that make the tensor far larger than the file.
  f.tensors[0].dims = {uint64_t{1} << 30, uint64_t{1} << 20};
  expect_error(build(f), {"tensor 'token_embd.weight'", "past file end"});
}

TEST(GgufCorrupt, MisalignedOffset) {
  std::map<std::string, size_t> m;
  auto bytes = build(reference_file(), &m);
  test::patch<uint64_t>(bytes, m["t1.offset"], 144);
  expect_error(bytes, {"tensor 'blk.0.attn_q.weight'", "data offset 144 is not a multiple of the alignment 32"});
}

TEST(GgufCorrupt, OverlappingTensors) {
  std::map<std::string, size_t> m;
  auto bytes = build(reference_file(), &m);
  test::patch<uint64_t>(bytes, m["t1.offset"], 96);  // inside token_embd's [0, 128)
  expect_error(bytes, {"tensor 'token_embd.weight' data [0, 128) overlaps tensor 'blk.0.attn_q.weight' data [96, 164)"});
  // Two tensors at the same offset.
  bytes = build(reference_file(), &m);
  test::patch<uint64_t>(bytes, m["t2.offset"], 0);
  expect_error(bytes, {"overlaps"});
}

TEST(GgufCorrupt, BadAlignment) {
  std::map<std::string, size_t> m;
  const auto good = build(reference_file(), &m);
  auto bytes = good;
  test::patch<uint32_t>(bytes, m["general.alignment=value"], 48);
  expect_error(bytes, {"key 'general.alignment'", "alignment 48 is not a power of two"});
  test::patch<uint32_t>(bytes, m["general.alignment=value"], 0);
  expect_error(bytes, {"key 'general.alignment'", "alignment 0 is not a power of two"});
  RawFile f = reference_file();
  f.kvs[1] = test::kv_u64("general.alignment", 32);
  expect_error(build(f), {"key 'general.alignment'", "must be of type u32, found u64"});
}

TEST(GgufCorrupt, Duplicates) {
  RawFile f = reference_file();
  f.kvs.push_back(test::kv_u32("test.count", 8));
  expect_error(build(f), {"duplicate key 'test.count'"});
  f = reference_file();
  f.tensors[2].name = "token_embd.weight";
  expect_error(build(f), {"duplicate tensor name 'token_embd.weight'"});
}

TEST(GgufCorrupt, EmptyNames) {
  RawFile f = reference_file();
  f.kvs.push_back(test::kv_u32("", 1));
  expect_error(build(f), {"key #7", "empty key name"});
  f = reference_file();
  f.tensors[0].name = "";
  expect_error(build(f), {"tensor #0", "empty tensor name"});
}

TEST(GgufCorrupt, MetadataMemoryBudget) {
  // 3 strings + nested arrays: a small budget must be enforced, naming the key.
  GgufLimits limits;
  limits.max_metadata_bytes = 64;
  expect_error(build(reference_file()), {"key 'tokenizer.ggml.tokens'", "max_metadata_bytes"}, limits);
}

TEST(GgufCorrupt, OpenReportsFileProblems) {
  const auto dir = std::filesystem::temp_directory_path() / ("baton-gguf-corrupt-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto open_error = [](const std::string& path) -> std::string {
    try {
      GgufFile::open(path);
    } catch (const GgufError& e) {
      return e.what();
    }
    return "(no error)";
  };
  const std::string missing = (dir / "missing.gguf").string();
  EXPECT_EQ(open_error(missing).rfind(missing + ": cannot open", 0), 0u) << open_error(missing);
  EXPECT_NE(open_error(dir.string()).find("not a regular file"), std::string::npos);
  const std::string empty = (dir / "empty.gguf").string();
  std::ofstream(empty).close();
  EXPECT_NE(open_error(empty).find("file is empty"), std::string::npos);
  // A broken file on disk reports through the same validation, labelled with its path.
  const std::string broken = (dir / "broken.gguf").string();
  {
    auto bytes = build(reference_file());
    bytes.resize(bytes.size() - 1);
    std::ofstream(broken, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
  }
  const std::string msg = open_error(broken);
  EXPECT_EQ(msg.rfind(broken + ": tensor 'output.weight'", 0), 0u) << msg;
  std::filesystem::remove_all(dir);
}

// Checks what a successful parse promises, so a validation hole shows up as a failure
// rather than silently passing the mutation test.
void check_invariants(const GgufFile& f) {
  for (const GgufTensor& t : f.tensors()) {
    ASSERT_FALSE(t.dims.empty());
    ASSERT_LE(t.dims.size(), 4u);
    const DTypeInfo info = dtype_info(t.dtype);
    ASSERT_EQ(t.dims[0] % info.block_elems, 0u);
    ASSERT_EQ(t.nbytes, t.elements() / info.block_elems * info.block_bytes);
    ASSERT_EQ(t.offset % f.alignment(), 0u);
    ASSERT_LE(t.nbytes, f.file_size());
    // The data pointer lies inside the file and holds the same bytes as the source image.
    ASSERT_LE(t.offset + t.nbytes, f.file_size());
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < t.nbytes; i += 61) sink = sink ^ t.data[i];
    if (t.nbytes > 0) sink = sink ^ t.data[t.nbytes - 1];
  }
}

TEST(GgufCorrupt, RandomMutationsNeverCrash) {
  // Fixed seed: reproducible. BATON_GGUF_MUTATIONS raises the count for soak runs.
  const char* env = std::getenv("BATON_GGUF_MUTATIONS");
  const int iterations = env ? std::atoi(env) : 3000;
  const auto good = build(reference_file());
  std::mt19937_64 rng(0x6775676675ull);
  const uint64_t interesting[] = {0, 1, 2, 3, 4, 5, 7, 9, 12, 13, 31, 32, 33, 255, 65535, 65536, 0x7fffffff,
                                  0xffffffff, uint64_t{1} << 32, uint64_t{1} << 63, ~uint64_t{0}};
  int parsed = 0, rejected = 0;
  for (int it = 0; it < iterations; ++it) {
    auto bytes = good;
    const int kind = static_cast<int>(rng() % 4);
    const int edits = kind == 3 ? 1 : 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      if (kind == 0) {  // random bytes anywhere
        bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
      } else if (kind == 1) {  // flip one bit in the header and metadata region
        bytes[rng() % 200 % bytes.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      } else if (kind == 2) {  // an interesting integer over a field-sized window
        const uint64_t v = interesting[rng() % std::size(interesting)];
        const size_t width = (rng() % 2) ? 8 : 4;
        const size_t at = rng() % (bytes.size() - width);
        std::memcpy(bytes.data() + at, &v, width);
      } else {  // truncate, sometimes after damaging
        bytes.resize(rng() % bytes.size());
        if (!bytes.empty()) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
      }
    }
    try {
      const GgufFile f = GgufFile::parse(bytes, kLabel);
      check_invariants(f);
      ++parsed;
    } catch (const GgufError& e) {
      ASSERT_EQ(std::string(e.what()).rfind(kLabel + ": ", 0), 0u) << e.what();
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "iteration " << it << ": non-GgufError exception: " << e.what();
    }
  }
  // Both outcomes must occur, or the mutations are not exercising the reader.
  EXPECT_GT(parsed, 0);
  EXPECT_GT(rejected, iterations / 2);
  RecordProperty("parsed", parsed);
  RecordProperty("rejected", rejected);
}

}  // namespace
}  // namespace baton
