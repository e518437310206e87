// summarize_gguf and its renderings (what `baton model inspect` prints).
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/gguf_summary.h"

namespace baton {
namespace {

std::vector<uint8_t> zeros(size_t n) { return std::vector<uint8_t>(n, 0); }

// A small model-shaped file. Expected byte counts are written out by hand next to each
// tensor: f32 = 4 bytes/element, f16 = 2, q8_0 = 34 per 32 elements.
struct Fixture {
  GgufFile file;
  static Fixture make() {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    std::string name = "line one\nline \"two\"\x01";
    name.append(100, 'x');
    w.set_string("general.name", name);
    w.set_f32("llama.rope.freq_base", 0.1f);
    w.set_u32("llama.block_count", 11);
    std::vector<std::string> tokens;
    for (int i = 0; i < 100; ++i) tokens.push_back(fmt::format("t{}", i));
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_string("bad.utf8", "\xff\xfe ok");
    w.add_tensor("token_embd.weight", {32, 10}, DType::Q8_0, zeros(340));     // 10 rows * 34
    w.add_tensor("blk.0.attn_norm.weight", {32}, DType::F32, zeros(128));
    w.add_tensor("blk.0.attn_q.weight", {32, 32}, DType::F16, zeros(2048));
    w.add_tensor("blk.1.attn_q.weight", {32, 32}, DType::Q8_0, zeros(1088));  // 32 rows * 34
    w.add_tensor("blk.2.ffn_up.weight", {32, 4, 2}, DType::F32, zeros(1024));
    w.add_tensor("blk.10.ffn_down.weight", {64, 1}, DType::F32, zeros(256));
    w.add_tensor("output_norm.weight", {32}, DType::F32, zeros(128));
    w.add_tensor("output.weight", {32, 10}, DType::F16, zeros(640));
    w.add_tensor("rope_freqs.weight", {16}, DType::F32, zeros(64));
    w.add_tensor("blk.x.weight", {4}, DType::F32, zeros(16));
    return Fixture{GgufFile::parse(w.serialize(), "tiny.gguf")};
  }
};

TEST(GgufSummary, BlockIndex) {
  EXPECT_EQ(gguf_block_index("blk.0.attn_q.weight"), 0u);
  EXPECT_EQ(gguf_block_index("blk.31.ffn_up.weight"), 31u);
  EXPECT_EQ(gguf_block_index("blk.123456789.x"), 123456789u);
  EXPECT_EQ(gguf_block_index("blk.1234567890.x"), std::nullopt);  // beyond any real model
  EXPECT_EQ(gguf_block_index("blk.01.x"), std::nullopt);
  EXPECT_EQ(gguf_block_index("blk..x"), std::nullopt);
  EXPECT_EQ(gguf_block_index("blk.3"), std::nullopt);
  EXPECT_EQ(gguf_block_index("blk.3."), std::nullopt);
  EXPECT_EQ(gguf_block_index("blk.x.weight"), std::nullopt);
  EXPECT_EQ(gguf_block_index("blk.-1.w"), std::nullopt);
  EXPECT_EQ(gguf_block_index("token_embd.weight"), std::nullopt);
  EXPECT_EQ(gguf_block_index("xblk.1.w"), std::nullopt);
}

TEST(GgufSummary, BytesPerLayerEmbeddingOutputAndTotal) {
  const Fixture fx = Fixture::make();
  const GgufSummary s = summarize_gguf(fx.file);
  EXPECT_EQ(s.path, "tiny.gguf");
  EXPECT_EQ(s.version, 3u);
  EXPECT_EQ(s.architecture, "llama");
  ASSERT_EQ(s.layers.size(), 4u);
  EXPECT_EQ(s.layers[0].layer, 0u);
  EXPECT_EQ(s.layers[0].tensors, 2u);
  EXPECT_EQ(s.layers[0].bytes, 128u + 2048u);
  EXPECT_EQ(s.layers[1].layer, 1u);
  EXPECT_EQ(s.layers[1].bytes, 1088u);
  EXPECT_EQ(s.layers[2].layer, 2u);
  EXPECT_EQ(s.layers[2].bytes, 1024u);
  EXPECT_EQ(s.layers[3].layer, 10u);
  EXPECT_EQ(s.layers[3].bytes, 256u);
  EXPECT_EQ(s.embedding_bytes, 340u);
  EXPECT_EQ(s.embedding_tensors, 1u);
  EXPECT_EQ(s.output_bytes, 128u + 640u);
  EXPECT_EQ(s.output_tensors, 2u);
  EXPECT_EQ(s.other_bytes, 64u + 16u);
  EXPECT_EQ(s.other_tensors, 2u);
  EXPECT_EQ(s.total_bytes, 340u + 128 + 2048 + 1088 + 1024 + 256 + 128 + 640 + 64 + 16);
  EXPECT_EQ(s.parameters, 320u + 32 + 1024 + 1024 + 256 + 64 + 32 + 320 + 16 + 4);
  ASSERT_EQ(s.tensors.size(), 10u);
  EXPECT_EQ(s.tensors[3].name, "blk.1.attn_q.weight");
  EXPECT_EQ(s.tensors[3].dtype, DType::Q8_0);
  EXPECT_EQ(s.tensors[3].offset, 352u + 128u + 2048u);  // 340 -> 352 (aligned), then 128, 2048
}

TEST(GgufSummary, MetadataPreviews) {
  const Fixture fx = Fixture::make();
  const GgufSummary s = summarize_gguf(fx.file);
  auto row = [&](const std::string& key) {
    for (const auto& m : s.metadata) {
      if (m.key == key) return m;
    }
    ADD_FAILURE() << "no row " << key;
    return GgufMetadataRow{};
  };
  EXPECT_EQ(row("tokenizer.ggml.tokens").type, "string[100]");
  EXPECT_EQ(row("tokenizer.ggml.tokens").preview, R"(["t0", "t1", "t2", "t3", ... 96 more])");
  EXPECT_EQ(row("llama.block_count").type, "u32");
  EXPECT_EQ(row("llama.block_count").preview, "11");
  EXPECT_EQ(row("llama.rope.freq_base").preview, "0.1");  // shortest float text, not 0.10000000149
  const std::string name = row("general.name").preview;
  EXPECT_EQ(name.rfind(R"("line one\nline \"two\"\x01xxx)", 0), 0u) << name;
  EXPECT_NE(name.find("...\" (120 bytes)"), std::string::npos) << name;
  EXPECT_EQ(name.find('\n'), std::string::npos);
  // Keys are listed sorted.
  for (size_t i = 1; i < s.metadata.size(); ++i) EXPECT_LT(s.metadata[i - 1].key, s.metadata[i].key);

  GgufSummaryOptions all;
  all.array_items_shown = 1000;
  auto nested = std::make_shared<GgufArray>();
  nested->elem_type = GgufType::ARRAY;
  auto inner = std::make_shared<GgufArray>();
  inner->elem_type = GgufType::I32;
  inner->items = {GgufValue{GgufType::I32, int64_t{-1}}, GgufValue{GgufType::I32, int64_t{2}}};
  nested->items = {GgufValue{GgufType::ARRAY, inner}};
  const GgufValue v{GgufType::ARRAY, nested};
  EXPECT_EQ(gguf_value_type_label(v), "array[1]");
  EXPECT_EQ(gguf_value_preview(v, all), "[[-1, 2]]");
  GgufSummaryOptions none;
  none.array_items_shown = 0;
  EXPECT_EQ(gguf_value_preview(v, none), "[... 1 more]");
}

TEST(GgufSummary, ByteSizes) {
  EXPECT_EQ(format_byte_size(0), "0 B");
  EXPECT_EQ(format_byte_size(1023), "1023 B");
  EXPECT_EQ(format_byte_size(1536), "1.50 KiB");
  EXPECT_EQ(format_byte_size(uint64_t{3} << 30), "3.00 GiB");
  EXPECT_EQ(format_byte_size(~uint64_t{0}), "16.00 EiB");
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(GgufSummary, TextReportHasAlignedColumns) {
  const Fixture fx = Fixture::make();
  const std::string text = render_gguf_summary_text(summarize_gguf(fx.file));
  EXPECT_NE(text.find("GGUF v3, alignment 32"), std::string::npos) << text;
  EXPECT_NE(text.find("architecture llama, 10 tensors, 6 metadata keys"), std::string::npos) << text;
  const auto lines = lines_of(text);
  // In the tensor table the dims column starts at the same position on every row.
  auto header = std::find_if(lines.begin(), lines.end(), [](const std::string& l) { return l.rfind("  name ", 0) == 0; });
  ASSERT_NE(header, lines.end()) << text;
  const size_t dims_col = header->find("dims");
  const size_t bytes_end = header->find("bytes") + 5;
  for (auto it = header + 1; it != lines.end() && !it->empty(); ++it) {
    EXPECT_EQ(it->find('['), dims_col) << *it;
    // Right-aligned numbers end where the header word ends.
    EXPECT_EQ((*it)[bytes_end - 1] >= '0' && (*it)[bytes_end - 1] <= '9', true) << *it;
    EXPECT_EQ((*it)[bytes_end], ' ') << *it;
  }
  EXPECT_NE(text.find("blk.10 "), std::string::npos);
  EXPECT_NE(text.find("embedding"), std::string::npos);
  const auto total = std::find_if(lines.begin(), lines.end(), [](const std::string& l) { return l.rfind("  total ", 0) == 0; });
  ASSERT_NE(total, lines.end());
  EXPECT_NE(total->find(" 5732 "), std::string::npos) << *total;
}

TEST(GgufSummary, JsonReport) {
  const Fixture fx = Fixture::make();
  const GgufSummary s = summarize_gguf(fx.file);
  const auto j = nlohmann::json::parse(render_gguf_summary_json(fx.file, s));
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["total_bytes"], s.total_bytes);
  ASSERT_EQ(j["tensors"].size(), 10u);
  EXPECT_EQ(j["tensors"][3]["dtype"], "q8_0");
  EXPECT_EQ(j["tensors"][4]["dims"], nlohmann::json::array({32, 4, 2}));
  ASSERT_EQ(j["layers"].size(), 4u);
  EXPECT_EQ(j["layers"][3]["layer"], 10);
  const auto& tokens = j["metadata"]["tokenizer.ggml.tokens"];
  EXPECT_EQ(tokens["type"], "array");
  EXPECT_EQ(tokens["element_type"], "string");
  EXPECT_EQ(tokens["length"], 100);
  EXPECT_EQ(tokens["items"].size(), 16u);
  EXPECT_EQ(tokens["truncated"], true);
  EXPECT_EQ(j["metadata"]["llama.block_count"]["value"], 11);
  EXPECT_EQ(j["metadata"]["llama.block_count"]["type"], "u32");
  // Invalid UTF-8 in a metadata string is replaced, not fatal.
  const std::string bad = j["metadata"]["bad.utf8"]["value"];
  EXPECT_NE(bad.find(" ok"), std::string::npos);
}

}  // namespace
}  // namespace baton
