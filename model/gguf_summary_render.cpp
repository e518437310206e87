// Text and JSON renderings of a GgufSummary (see gguf_summary.h).
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "model/gguf_format.h"
#include "model/gguf_summary.h"

namespace baton {

namespace {

using gguf_detail::format_dims;

// Left-aligned columns whose widths fit their longest cell; the last column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> header, std::vector<bool> right_aligned = {})
      : right_(std::move(right_aligned)) {
    rows_.push_back(std::move(header));
  }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string render(const std::string& indent) const {
    std::vector<size_t> width;
    for (const auto& row : rows_) {
      width.resize(std::max(width.size(), row.size()), 0);
      for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line = indent;
      for (size_t c = 0; c < row.size(); ++c) {
        const bool right = c < right_.size() && right_[c];
        const bool last = c + 1 == row.size();
        if (c) line += "  ";
        if (right) {
          line += std::string(width[c] - row[c].size(), ' ') + row[c];
        } else {
          line += row[c];
          if (!last) line += std::string(width[c] - row[c].size(), ' ');
        }
      }
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

nlohmann::ordered_json scalar_json(const GgufValue& v) {
  if (const auto* s = std::get_if<std::string>(&v.v)) return *s;
  if (const auto* b = std::get_if<bool>(&v.v)) return *b;
  if (const auto* u = std::get_if<uint64_t>(&v.v)) return *u;
  if (const auto* i = std::get_if<int64_t>(&v.v)) return *i;
  if (const auto* d = std::get_if<double>(&v.v)) return *d;  // NaN and infinities become null
  return nullptr;
}

nlohmann::ordered_json value_json(const GgufValue& v, size_t max_items) {
  nlohmann::ordered_json j;
  j["type"] = std::string(gguf_type_name(v.type));
  const auto* arr = std::get_if<std::shared_ptr<GgufArray>>(&v.v);
  if (arr == nullptr || !*arr) {
    j["value"] = scalar_json(v);
    return j;
  }
  const auto& items = (*arr)->items;
  j["element_type"] = std::string(gguf_type_name((*arr)->elem_type));
  j["length"] = items.size();
  auto shown = nlohmann::ordered_json::array();
  for (size_t i = 0; i < std::min(items.size(), max_items); ++i) {
    const auto* inner = std::get_if<std::shared_ptr<GgufArray>>(&items[i].v);
    shown.push_back(inner ? value_json(items[i], max_items) : scalar_json(items[i]));
  }
  j["items"] = std::move(shown);
  j["truncated"] = items.size() > max_items;
  return j;
}

}  // namespace

std::string render_gguf_summary_text(const GgufSummary& s) {
  std::string out = fmt::format("{}\n", s.path);
  out += fmt::format("  GGUF v{}, alignment {}, {} ({} bytes)\n", s.version, s.alignment, format_byte_size(s.file_size),
                     s.file_size);
  out += fmt::format("  architecture {}, {} tensors, {} metadata keys, {} parameters\n",
                     s.architecture.empty() ? "(none)" : s.architecture, s.tensors.size(), s.metadata.size(),
                     s.parameters);

  out += fmt::format("\nmetadata ({} keys)\n", s.metadata.size());
  Table meta({"key", "type", "value"});
  for (const auto& m : s.metadata) meta.add({m.key, m.type, m.preview});
  out += meta.render("  ");

  out += fmt::format("\ntensors ({})\n", s.tensors.size());
  Table tensors({"name", "dims", "dtype", "bytes", "offset"}, {false, false, false, true, true});
  for (const auto& t : s.tensors) {
    tensors.add({t.name, format_dims(t.dims), std::string(dtype_name(t.dtype)), fmt::to_string(t.bytes), fmt::to_string(t.offset)});
  }
  out += tensors.render("  ");

  out += "\nbytes per layer\n";
  Table layers({"part", "tensors", "bytes", "size"}, {false, true, true, true});
  for (const auto& l : s.layers) {
    layers.add({fmt::format("blk.{}", l.layer), fmt::to_string(l.tensors), fmt::to_string(l.bytes), format_byte_size(l.bytes)});
  }
  layers.add({"embedding", fmt::to_string(s.embedding_tensors), fmt::to_string(s.embedding_bytes),
              format_byte_size(s.embedding_bytes)});
  layers.add({"output", fmt::to_string(s.output_tensors), fmt::to_string(s.output_bytes), format_byte_size(s.output_bytes)});
  if (s.other_tensors > 0) {
    layers.add({"other", fmt::to_string(s.other_tensors), fmt::to_string(s.other_bytes), format_byte_size(s.other_bytes)});
  }
  layers.add({"total", fmt::to_string(s.tensors.size()), fmt::to_string(s.total_bytes), format_byte_size(s.total_bytes)});
  out += layers.render("  ");
  return out;
}

std::string render_gguf_summary_json(const GgufFile& file, const GgufSummary& s, const GgufSummaryOptions& options) {
  nlohmann::ordered_json j;
  j["path"] = s.path;
  j["version"] = s.version;
  j["alignment"] = s.alignment;
  j["file_size"] = s.file_size;
  j["architecture"] = s.architecture;
  j["parameters"] = s.parameters;
  auto meta = nlohmann::ordered_json::object();
  for (const auto& [key, value] : file.metadata()) meta[key] = value_json(value, options.json_array_items);
  j["metadata"] = std::move(meta);
  auto tensors = nlohmann::ordered_json::array();
  for (const auto& t : s.tensors) {
    tensors.push_back({{"name", t.name}, {"dims", t.dims}, {"dtype", std::string(dtype_name(t.dtype))},
                       {"bytes", t.bytes}, {"offset", t.offset}});
  }
  j["tensors"] = std::move(tensors);
  auto layers = nlohmann::ordered_json::array();
  for (const auto& l : s.layers) layers.push_back({{"layer", l.layer}, {"tensors", l.tensors}, {"bytes", l.bytes}});
  j["layers"] = std::move(layers);
  j["embedding_bytes"] = s.embedding_bytes;
  j["output_bytes"] = s.output_bytes;
  j["other_bytes"] = s.other_bytes;
  j["embedding_tensors"] = s.embedding_tensors;
  j["output_tensors"] = s.output_tensors;
  j["other_tensors"] = s.other_tensors;
  j["total_bytes"] = s.total_bytes;
  // Metadata strings are arbitrary bytes: replace invalid UTF-8 rather than throw.
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace baton
