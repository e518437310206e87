// What `baton model inspect` shows about a GGUF file, as data: header facts, metadata with
// long values abbreviated, the tensor table, and bytes grouped by transformer block
// ("blk.N.*"), embedding and output. Pure functions over a parsed GgufFile; rendering to
// text or JSON is separate so tools and tests share it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/gguf.h"

namespace baton {

struct GgufSummaryOptions {
  size_t array_items_shown = 4;   // first items of an array shown in text previews
  size_t string_chars_shown = 60;  // longer strings are cut in text previews
  size_t json_array_items = 16;    // first items of an array included in JSON
};

struct GgufMetadataRow {
  std::string key;
  std::string type;     // "u32", "string", "string[32000]", "array[2]" (array of arrays)
  std::string preview;  // one line: escaped, abbreviated
};

struct GgufTensorRow {
  std::string name;
  std::vector<uint64_t> dims;
  DType dtype = DType::F32;
  uint64_t bytes = 0;
  uint64_t offset = 0;  // relative to the data section
};

struct GgufLayerBytes {
  uint64_t layer = 0;
  uint64_t tensors = 0;
  uint64_t bytes = 0;
};

struct GgufSummary {
  std::string path;
  uint32_t version = 0;
  uint64_t alignment = 0;
  uint64_t file_size = 0;
  std::string architecture;  // general.architecture, empty when absent
  std::vector<GgufMetadataRow> metadata;  // sorted by key
  std::vector<GgufTensorRow> tensors;     // file order
  std::vector<GgufLayerBytes> layers;     // ascending layer index, only layers with tensors
  uint64_t embedding_bytes = 0;  // token_embd.*
  uint64_t output_bytes = 0;     // output.* and output_norm.*
  uint64_t other_bytes = 0;      // everything else outside blk.N.*
  uint64_t embedding_tensors = 0;
  uint64_t output_tensors = 0;
  uint64_t other_tensors = 0;
  uint64_t total_bytes = 0;      // all tensor data
  uint64_t parameters = 0;       // total elements
};

// The block index N of a tensor named "blk.N.<rest>" (decimal N without sign or leading
// zeros, <rest> non-empty); nullopt for any other name.
std::optional<uint64_t> gguf_block_index(std::string_view tensor_name);

// One-line preview of a value: strings quoted and escaped, long strings and arrays cut.
std::string gguf_value_preview(const GgufValue& value, const GgufSummaryOptions& options = {});
// "u32", "string", "f32[3]", "array[2]".
std::string gguf_value_type_label(const GgufValue& value);

GgufSummary summarize_gguf(const GgufFile& file, const GgufSummaryOptions& options = {});

// "512 B", "1.50 KiB", "35.20 MiB", "1.02 GiB"
std::string format_byte_size(uint64_t bytes);

// Human-readable report with aligned columns.
std::string render_gguf_summary_text(const GgufSummary& summary);
// The same as JSON (metadata values typed, arrays cut to options.json_array_items).
std::string render_gguf_summary_json(const GgufFile& file, const GgufSummary& summary,
                                     const GgufSummaryOptions& options = {});

}  // namespace baton
