// GgufWriter -> GgufFile round trips, the writer's bytes against an independent hand
// encoding, and the typed getters.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "gguf_raw_builder.h"
#include "model/gguf.h"

namespace baton {
namespace {

GgufValue scalar(GgufType t, uint64_t v) { return GgufValue{t, v}; }
GgufValue scalar(GgufType t, int64_t v) { return GgufValue{t, v}; }
GgufValue real(GgufType t, double v) { return GgufValue{t, v}; }
GgufValue text(std::string s) { return GgufValue{GgufType::STRING, std::move(s)}; }
GgufValue array(GgufType elem, std::vector<GgufValue> items) {
  auto a = std::make_shared<GgufArray>();
  a->elem_type = elem;
  a->items = std::move(items);
  return GgufValue{GgufType::ARRAY, std::move(a)};
}

// Deep equality; doubles compared bit-for-bit so -0.0 and NaN payloads count.
::testing::AssertionResult same_value(const GgufValue& a, const GgufValue& b, const std::string& where) {
  if (a.type != b.type) {
    return ::testing::AssertionFailure() << where << ": type " << gguf_type_name(a.type) << " vs " << gguf_type_name(b.type);
  }
  if (a.v.index() != b.v.index()) return ::testing::AssertionFailure() << where << ": variant alternative differs";
  if (const auto* x = std::get_if<double>(&a.v)) {
    const double y = std::get<double>(b.v);
    if (std::memcmp(x, &y, sizeof y) != 0) return ::testing::AssertionFailure() << where << ": " << *x << " vs " << y;
    return ::testing::AssertionSuccess();
  }
  if (const auto* x = std::get_if<std::shared_ptr<GgufArray>>(&a.v)) {
    const GgufArray& p = **x;
    const GgufArray& q = *std::get<std::shared_ptr<GgufArray>>(b.v);
    if (p.elem_type != q.elem_type) return ::testing::AssertionFailure() << where << ": element type differs";
    if (p.items.size() != q.items.size()) {
      return ::testing::AssertionFailure() << where << ": " << p.items.size() << " vs " << q.items.size() << " items";
    }
    for (size_t i = 0; i < p.items.size(); ++i) {
      auto r = same_value(p.items[i], q.items[i], where + "[" + std::to_string(i) + "]");
      if (!r) return r;
    }
    return ::testing::AssertionSuccess();
  }
  if (a.v != b.v) return ::testing::AssertionFailure() << where << ": values differ";
  return ::testing::AssertionSuccess();
}

std::vector<uint8_t> random_bytes(size_t n, std::mt19937_64& rng) {
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(rng());
  return v;
}

struct Expected {
  std::vector<std::pair<std::string, GgufValue>> kv;
  struct Tensor { std::string name; std::vector<uint64_t> dims; DType dtype; std::vector<uint8_t> data; };
  std::vector<Tensor> tensors;
};

// Every value type (edge values included), nested and empty arrays, and tensors of every
// dtype the files may hold, in 1 to 4 dimensions. Keys are in sorted order so a copy made
// from the reader's (sorted) metadata map re-serialises to identical bytes.
Expected every_kind_of_content() {
  Expected e;
  auto& kv = e.kv;
  kv.emplace_back("a.bool_false", GgufValue{GgufType::BOOL, false});
  kv.emplace_back("a.bool_true", GgufValue{GgufType::BOOL, true});
  kv.emplace_back("b.f32", real(GgufType::F32, static_cast<double>(-1.25e-7f)));
  kv.emplace_back("b.f32_neg_zero", real(GgufType::F32, -0.0));
  kv.emplace_back("b.f32_subnormal", real(GgufType::F32, static_cast<double>(std::numeric_limits<float>::denorm_min())));
  kv.emplace_back("b.f64", real(GgufType::F64, 3.141592653589793));
  kv.emplace_back("b.f64_inf", real(GgufType::F64, -std::numeric_limits<double>::infinity()));
  kv.emplace_back("c.i16", scalar(GgufType::I16, int64_t{-32768}));
  kv.emplace_back("c.i32", scalar(GgufType::I32, int64_t{std::numeric_limits<int32_t>::min()}));
  kv.emplace_back("c.i64", scalar(GgufType::I64, std::numeric_limits<int64_t>::min()));
  kv.emplace_back("c.i8", scalar(GgufType::I8, int64_t{-128}));
  kv.emplace_back("d.u16", scalar(GgufType::U16, uint64_t{65535}));
  kv.emplace_back("d.u32", scalar(GgufType::U32, uint64_t{4000000000u}));
  kv.emplace_back("d.u64", scalar(GgufType::U64, std::numeric_limits<uint64_t>::max()));
  kv.emplace_back("d.u8", scalar(GgufType::U8, uint64_t{255}));
  kv.emplace_back("e.empty_string", text(""));
  kv.emplace_back("e.string", text(std::string("h\xc3\xa9llo\n\0world", 13)));
  kv.emplace_back("f.array_bool", array(GgufType::BOOL, {GgufValue{GgufType::BOOL, true}, GgufValue{GgufType::BOOL, false}}));
  kv.emplace_back("f.array_empty", array(GgufType::U32, {}));
  kv.emplace_back("f.array_f64", array(GgufType::F64, {real(GgufType::F64, 1e300), real(GgufType::F64, -2.5)}));
  kv.emplace_back("f.array_i16", array(GgufType::I16, {scalar(GgufType::I16, int64_t{-5}), scalar(GgufType::I16, int64_t{32767})}));
  kv.emplace_back("f.array_i64", array(GgufType::I64, {scalar(GgufType::I64, int64_t{-1}), scalar(GgufType::I64, int64_t{1} << 40)}));
  kv.emplace_back("f.array_i8", array(GgufType::I8, {scalar(GgufType::I8, int64_t{127}), scalar(GgufType::I8, int64_t{-1})}));
  kv.emplace_back("f.array_u16", array(GgufType::U16, {scalar(GgufType::U16, uint64_t{1}), scalar(GgufType::U16, uint64_t{65535})}));
  kv.emplace_back("f.array_u64", array(GgufType::U64, {scalar(GgufType::U64, uint64_t{1} << 63)}));
  kv.emplace_back("f.array_u8", array(GgufType::U8, {scalar(GgufType::U8, uint64_t{0}), scalar(GgufType::U8, uint64_t{200})}));
  kv.emplace_back("f.nested", array(GgufType::ARRAY, {array(GgufType::STRING, {text("x"), text("")}),
                                                      array(GgufType::STRING, {}),
                                                      array(GgufType::STRING, {text("yz")})}));
  kv.emplace_back("general.alignment", scalar(GgufType::U32, uint64_t{32}));
  kv.emplace_back("general.architecture", text("llama"));
  kv.emplace_back("tokenizer.ggml.scores", array(GgufType::F32, {real(GgufType::F32, 0.5), real(GgufType::F32, -3.0)}));
  kv.emplace_back("tokenizer.ggml.token_type", array(GgufType::I32, {scalar(GgufType::I32, int64_t{1}), scalar(GgufType::I32, int64_t{3})}));
  kv.emplace_back("tokenizer.ggml.tokens", array(GgufType::STRING, {text("<unk>"), text("\xe2\x96\x81the")}));

  std::mt19937_64 rng(42);
  auto tensor = [&](std::string name, std::vector<uint64_t> dims, DType t) {
    uint64_t elements = 1;
    for (uint64_t d : dims) elements *= d;
    const DTypeInfo info = dtype_info(t);
    e.tensors.push_back({std::move(name), dims, t, random_bytes(elements / info.block_elems * info.block_bytes, rng)});
  };
  tensor("token_embd.weight", {64, 10}, DType::F32);
  tensor("blk.0.attn_norm.weight", {64}, DType::F32);
  tensor("blk.0.attn_q.weight", {64, 3}, DType::F16);
  tensor("blk.0.attn_k.weight", {64, 2, 2}, DType::BF16);
  tensor("blk.0.ffn_up.weight", {96, 5}, DType::Q8_0);
  tensor("blk.1.ffn_down.weight", {32, 3, 1, 2}, DType::Q4_0);
  tensor("blk.1.ffn_gate.weight", {256, 3}, DType::Q4_K);
  tensor("output.weight", {512, 2}, DType::Q6_K);
  tensor("output_norm.weight", {5}, DType::F32);  // 20 bytes: not a multiple of the alignment
  return e;
}

GgufWriter writer_for(const Expected& e, uint32_t version = 3, uint64_t alignment = 32) {
  GgufWriter w(version, alignment);
  for (const auto& [k, v] : e.kv) w.set(k, v);
  for (const auto& t : e.tensors) w.add_tensor(t.name, t.dims, t.dtype, t.data);
  return w;
}

void expect_matches(const GgufFile& f, const Expected& e) {
  ASSERT_EQ(f.metadata().size(), e.kv.size());
  for (const auto& [k, v] : e.kv) {
    const GgufValue* got = f.find(k);
    ASSERT_NE(got, nullptr) << k;
    EXPECT_TRUE(same_value(v, *got, k));
  }
  ASSERT_EQ(f.tensors().size(), e.tensors.size());
  for (size_t i = 0; i < e.tensors.size(); ++i) {
    const GgufTensor& t = f.tensors()[i];
    const auto& x = e.tensors[i];
    EXPECT_EQ(t.name, x.name);
    EXPECT_EQ(t.dims, x.dims) << x.name;
    EXPECT_EQ(t.dtype, x.dtype) << x.name;
    ASSERT_EQ(t.nbytes, x.data.size()) << x.name;
    EXPECT_EQ(std::memcmp(t.data, x.data.data(), x.data.size()), 0) << x.name;
    EXPECT_EQ(t.offset % f.alignment(), 0u) << x.name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 32, 0u) << x.name << ": data not aligned in memory";
    EXPECT_EQ(f.find_tensor(x.name), &t);
  }
}

TEST(GgufRoundTrip, EveryValueTypeAndDtype) {
  const Expected e = every_kind_of_content();
  const std::vector<uint8_t> image = writer_for(e).serialize();
  const GgufFile f = GgufFile::parse(image, "roundtrip");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.file_size(), image.size());
  EXPECT_EQ(image.size() % 32, 0u);
  expect_matches(f, e);
}

TEST(GgufRoundTrip, ReaderContentsReserialiseToIdenticalBytes) {
  const Expected e = every_kind_of_content();
  const std::vector<uint8_t> image = writer_for(e).serialize();
  const GgufFile f = GgufFile::parse(image, "roundtrip");
  GgufWriter copy;
  for (const auto& [k, v] : f.metadata()) copy.set(k, v);
  for (const GgufTensor& t : f.tensors()) copy.add_tensor(t.name, t.dims, t.dtype, std::vector<uint8_t>(t.data, t.data + t.nbytes));
  EXPECT_EQ(copy.serialize(), image);
}

TEST(GgufRoundTrip, Version2AndWiderAlignment) {
  Expected e = every_kind_of_content();
  // Without an explicit key the writer must declare a non-default alignment itself.
  std::erase_if(e.kv, [](const auto& kv) { return kv.first == "general.alignment"; });
  const std::vector<uint8_t> image = writer_for(e, 2, 256).serialize();
  const GgufFile f = GgufFile::parse(image, "v2");
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.alignment(), 256u);
  EXPECT_EQ(f.get_u64("general.alignment"), 256u);
  for (const GgufTensor& t : f.tensors()) EXPECT_EQ(t.offset % 256, 0u) << t.name;
  e.kv.emplace_back("general.alignment", scalar(GgufType::U32, uint64_t{256}));
  expect_matches(f, e);
}

TEST(GgufRoundTrip, AlignmentKeyOverridesConstructor) {
  GgufWriter w(3, 32);
  w.set("general.alignment", GgufValue{GgufType::U32, int64_t{64}});  // either integer alternative
  std::vector<uint8_t> data(4 * 3, 1);
  w.add_tensor("a", {3}, DType::F32, data);
  w.add_tensor("b", {3}, DType::F32, data);
  const GgufFile f = GgufFile::parse(w.serialize());
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.tensors()[1].offset, 64u);
}

// The writer against a hand encoding of the same small file, byte for byte.
TEST(GgufRoundTrip, WriterMatchesIndependentEncoding) {
  test::RawFile raw;
  raw.kvs = {test::kv_string("general.architecture", "llama"), test::kv_u32("llama.block_count", 2),
             test::kv_string_array("tokenizer.ggml.tokens", {"<s>", "hi"}), test::kv_f32_array("s", {1.5f}),
             test::kv_nested_i32("n", {{1, -2}, {}}), test::kv_bool("flag", 1)};
  raw.tensors = {{"w", {32, 2}, 8, 0, 68}, {"v", {3}, 0, 96, 12}};
  std::vector<uint8_t> expected = raw.build();
  expected.resize(expected.size() + 20, 0);  // the writer pads the last tensor too (to 128)

  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_string_array("tokenizer.ggml.tokens", {"<s>", "hi"});
  w.set_f32_array("s", {1.5f});
  w.set("n", array(GgufType::ARRAY, {array(GgufType::I32, {scalar(GgufType::I32, int64_t{1}), scalar(GgufType::I32, int64_t{-2})}),
                                     array(GgufType::I32, {})}));
  w.set_bool("flag", true);
  std::map<std::string, size_t> marks;
  const std::vector<uint8_t> data_image = raw.build(&marks);
  auto tensor_bytes = [&](uint64_t offset, uint64_t n) {
    const auto begin = data_image.begin() + static_cast<long>(marks["data"] + offset);
    return std::vector<uint8_t>(begin, begin + static_cast<long>(n));
  };
  w.add_tensor("w", {32, 2}, DType::Q8_0, tensor_bytes(0, 68));
  w.add_tensor("v", {3}, DType::F32, tensor_bytes(96, 12));
  EXPECT_EQ(w.serialize(), expected);
}

TEST(GgufRoundTrip, WriteToDiskIsAtomicAndMatchesSerialize) {
  const auto dir = std::filesystem::temp_directory_path() / ("baton-gguf-rt-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const Expected e = every_kind_of_content();
  const GgufWriter w = writer_for(e);
  const std::string path = (dir / "model.gguf").string();
  {
    std::ofstream(path) << "old contents";  // replaced, not appended to
  }
  w.write(path);
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(on_disk, w.serialize());
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1) << "temporary file left behind";
  {
    GgufFile f = GgufFile::open(path);  // the mmap path
    EXPECT_EQ(f.path(), path);
    expect_matches(f, e);
    GgufFile moved = std::move(f);  // tensor pointers stay valid: the mapping moves with it
    EXPECT_EQ(moved.tensors().size(), e.tensors.size());
    EXPECT_EQ(moved.tensors()[0].data[0], e.tensors[0].data[0]);
  }
  EXPECT_THROW(w.write((dir / "no-such-dir" / "x.gguf").string()), std::runtime_error);
  std::filesystem::remove_all(dir);
}

TEST(GgufRoundTrip, LargeVocabulary) {
  // A 260k-entry token table with scores and types, the size of the largest tokenizers.
  constexpr size_t n = 262144;
  std::vector<std::string> tokens(n);
  std::vector<float> scores(n);
  std::vector<int32_t> types(n);
  for (size_t i = 0; i < n; ++i) {
    tokens[i] = "tok" + std::to_string(i * 2654435761u % 1000003u);
    scores[i] = -static_cast<float>(i) * 0.25f;
    types[i] = static_cast<int32_t>(i % 6);
  }
  GgufWriter w;
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_f32_array("tokenizer.ggml.scores", scores);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  const GgufFile f = GgufFile::parse(w.serialize(), "vocab");
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens"), tokens);
  const std::vector<double> s = f.get_f64_array("tokenizer.ggml.scores");
  ASSERT_EQ(s.size(), n);
  for (size_t i = 0; i < n; i += 997) EXPECT_EQ(s[i], static_cast<double>(scores[i]));
  const std::vector<int64_t> t = f.get_i64_array("tokenizer.ggml.token_type");
  ASSERT_EQ(t.size(), n);
  for (size_t i = 0; i < n; i += 997) EXPECT_EQ(t[i], types[i]);
}

TEST(GgufRoundTrip, WriterRejectsMisuse) {
  GgufWriter w;
  EXPECT_THROW(GgufWriter(1, 32), std::invalid_argument);
  EXPECT_THROW(GgufWriter(3, 48), std::invalid_argument);
  EXPECT_THROW(w.set("", text("x")), std::invalid_argument);
  EXPECT_THROW(w.set("k", GgufValue{GgufType::U8, uint64_t{256}}), std::invalid_argument);
  EXPECT_THROW(w.set("k", GgufValue{GgufType::I8, int64_t{-129}}), std::invalid_argument);
  EXPECT_THROW(w.set("k", GgufValue{GgufType::U32, int64_t{-1}}), std::invalid_argument);
  EXPECT_THROW(w.set("k", GgufValue{GgufType::STRING, uint64_t{1}}), std::invalid_argument);
  EXPECT_THROW(w.set("k", array(GgufType::U8, {text("x")})), std::invalid_argument);
  EXPECT_THROW(w.set_u32("general.alignment", 24), std::invalid_argument);
  EXPECT_THROW(w.set("general.alignment", GgufValue{GgufType::U64, uint64_t{32}}), std::invalid_argument);
  EXPECT_THROW(w.set("general.alignment", GgufValue{GgufType::U32, int64_t{-32}}), std::invalid_argument);
  EXPECT_THROW(w.set("general.alignment", GgufValue{GgufType::STRING, std::string("32")}), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("t", {31}, DType::Q8_0, std::vector<uint8_t>(34)), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("t", {32}, DType::Q8_0, std::vector<uint8_t>(33)), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("t", {}, DType::F32, {}), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("t", {1, 1, 1, 1, 1}, DType::F32, std::vector<uint8_t>(4)), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("t", {0}, DType::F32, {}), std::invalid_argument);
  w.add_tensor("t", {32}, DType::Q8_0, std::vector<uint8_t>(34));
  EXPECT_THROW(w.add_tensor("t", {32}, DType::Q8_0, std::vector<uint8_t>(34)), std::invalid_argument);
  // set() replaces an existing key in place.
  w.set_u32("k", 1);
  w.set_u32("k", 2);
  const GgufFile f = GgufFile::parse(w.serialize());
  EXPECT_EQ(f.metadata().size(), 1u);
  EXPECT_EQ(f.get_u64("k"), 2u);
}

std::string getter_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const GgufError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(GgufGetters, IntegersConvertWhenTheValueFits) {
  GgufWriter w;
  w.set("u8", scalar(GgufType::U8, uint64_t{7}));
  w.set("i32_neg", scalar(GgufType::I32, int64_t{-3}));
  w.set("i64_pos", scalar(GgufType::I64, int64_t{9}));
  w.set("u64_big", scalar(GgufType::U64, uint64_t{1} << 63));
  w.set("f32", real(GgufType::F32, 0.5));
  w.set("b", GgufValue{GgufType::BOOL, true});
  w.set("s", text("hello"));
  w.set("ints", array(GgufType::U64, {scalar(GgufType::U64, uint64_t{5}), scalar(GgufType::U64, uint64_t{1} << 63)}));
  w.set("strs", array(GgufType::STRING, {text("a")}));
  const GgufFile f = GgufFile::parse(w.serialize(), "g.gguf");

  EXPECT_EQ(f.get_u64("u8"), 7u);
  EXPECT_EQ(f.get_i64("u8"), 7);
  EXPECT_EQ(f.get_i64("i32_neg"), -3);
  EXPECT_EQ(f.get_u64("i64_pos"), 9u);
  EXPECT_EQ(f.get_u64("u64_big"), uint64_t{1} << 63);
  EXPECT_EQ(f.get_f64("u8"), 7.0);
  EXPECT_EQ(f.get_f64("i32_neg"), -3.0);
  EXPECT_EQ(f.get_f64("f32"), 0.5);
  EXPECT_TRUE(f.get_bool("b"));
  EXPECT_EQ(f.get_string("s"), "hello");
  EXPECT_EQ(f.opt_u64("missing"), std::nullopt);
  EXPECT_EQ(f.opt_string("missing"), std::nullopt);
  EXPECT_EQ(f.opt_f64("missing"), std::nullopt);
  EXPECT_EQ(f.opt_bool("missing"), std::nullopt);
  EXPECT_EQ(f.opt_u64("u8"), 7u);

  EXPECT_EQ(getter_error([&] { f.get_u64("i32_neg"); }), "g.gguf: key 'i32_neg': value -3 is negative, expected an unsigned integer");
  EXPECT_EQ(getter_error([&] { f.get_i64("u64_big"); }),
            "g.gguf: key 'u64_big': value 9223372036854775808 does not fit in a signed 64-bit integer");
  EXPECT_EQ(getter_error([&] { f.get_string("u8"); }), "g.gguf: key 'u8' has type u8, expected string");
  EXPECT_EQ(getter_error([&] { f.get_u64("f32"); }), "g.gguf: key 'f32' has type f32, expected an integer");
  EXPECT_EQ(getter_error([&] { f.get_u64("b"); }), "g.gguf: key 'b' has type bool, expected an integer");
  EXPECT_EQ(getter_error([&] { f.get_f64("s"); }), "g.gguf: key 's' has type string, expected a number");
  EXPECT_EQ(getter_error([&] { f.get_bool("u8"); }), "g.gguf: key 'u8' has type u8, expected bool");
  EXPECT_EQ(getter_error([&] { f.get_string("nope"); }), "g.gguf: key 'nope' is missing");
  EXPECT_EQ(getter_error([&] { f.opt_string("u8"); }), "g.gguf: key 'u8' has type u8, expected string");
  EXPECT_EQ(getter_error([&] { f.get_string_array("ints"); }), "g.gguf: key 'ints' has type array of u64, expected array of string");
  EXPECT_EQ(getter_error([&] { f.get_f64_array("strs"); }), "g.gguf: key 'strs' has type array of string, expected array of f32 or f64");
  EXPECT_EQ(getter_error([&] { f.get_i64_array("s"); }), "g.gguf: key 's' has type string, expected array of integers");
  EXPECT_EQ(getter_error([&] { f.get_i64_array("ints"); }),
            "g.gguf: key 'ints' item 1: value 9223372036854775808 does not fit in a signed 64-bit integer");
}

TEST(GgufGetters, RequireTensorNamesExpectedAndFound) {
  GgufWriter w;
  w.add_tensor("blk.0.attn_q.weight", {64, 3}, DType::F32, std::vector<uint8_t>(64 * 3 * 4));
  const GgufFile f = GgufFile::parse(w.serialize(), "m.gguf");
  EXPECT_EQ(f.require_tensor("blk.0.attn_q.weight", {64, 3}).rows(), 3u);
  EXPECT_EQ(f.require_tensor("blk.0.attn_q.weight", {64, 3}).elements(), 192u);
  EXPECT_EQ(getter_error([&] { f.require_tensor("blk.0.attn_q.weight", {64, 4}); }),
            "m.gguf: tensor 'blk.0.attn_q.weight': expected dims [64, 4] (ggml order), found [64, 3]");
  EXPECT_EQ(getter_error([&] { f.require_tensor("blk.0.attn_k.weight", {64}); }), "m.gguf: tensor 'blk.0.attn_k.weight' is missing");
  EXPECT_EQ(f.find_tensor("nope"), nullptr);
}

}  // namespace
}  // namespace baton
