#include "model/gguf_summary.h"

#include <fmt/format.h>

#include <map>

#include "model/gguf_format.h"

namespace baton {

namespace {

// Strings from a file can hold anything: show control and non-ASCII bytes as escapes so
// one value stays on one line and cannot move the terminal cursor.
void append_escaped(std::string& out, std::string_view s, size_t max_chars) {
  size_t shown = 0;
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    if (shown >= max_chars) {
      out += fmt::format("...\" ({} bytes)", s.size());
      return;
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += static_cast<char>(c);  // printable ASCII or a UTF-8 byte: kept as is
        }
    }
    ++shown;
  }
  out += '"';
}

std::string scalar_text(const GgufValue& v, const GgufSummaryOptions& options) {
  if (const auto* s = std::get_if<std::string>(&v.v)) {
    std::string out;
    append_escaped(out, *s, options.string_chars_shown);
    return out;
  }
  if (const auto* b = std::get_if<bool>(&v.v)) return *b ? "true" : "false";
  if (const auto* u = std::get_if<uint64_t>(&v.v)) return fmt::to_string(*u);
  if (const auto* i = std::get_if<int64_t>(&v.v)) return fmt::to_string(*i);
  if (const auto* d = std::get_if<double>(&v.v)) {
    // Shortest text that reads back as the stored value, in the stored precision.
    return v.type == GgufType::F32 ? fmt::format("{}", static_cast<float>(*d)) : fmt::format("{}", *d);
  }
  return "?";
}

}  // namespace

std::optional<uint64_t> gguf_block_index(std::string_view name) {
  constexpr std::string_view prefix = "blk.";
  if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
  name.remove_prefix(prefix.size());
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size() || dot > 9) return std::nullopt;
  if (name[0] == '0' && dot > 1) return std::nullopt;  // "blk.01." is not a block name
  uint64_t n = 0;
  for (size_t i = 0; i < dot; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return n;
}

std::string gguf_value_type_label(const GgufValue& value) {
  if (value.type != GgufType::ARRAY) return std::string(gguf_type_name(value.type));
  const auto* arr = std::get_if<std::shared_ptr<GgufArray>>(&value.v);
  if (arr == nullptr || !*arr) return "array";
  return fmt::format("{}[{}]", gguf_type_name((*arr)->elem_type), (*arr)->items.size());
}

std::string gguf_value_preview(const GgufValue& value, const GgufSummaryOptions& options) {
  const auto* arr = std::get_if<std::shared_ptr<GgufArray>>(&value.v);
  if (arr == nullptr) return scalar_text(value, options);
  if (!*arr) return "[]";
  const auto& items = (*arr)->items;
  std::string out = "[";
  const size_t shown = std::min(items.size(), options.array_items_shown);
  for (size_t i = 0; i < shown; ++i) {
    if (i) out += ", ";
    out += gguf_value_preview(items[i], options);
  }
  if (shown < items.size()) out += fmt::format("{}... {} more", shown ? ", " : "", items.size() - shown);
  out += "]";
  return out;
}

GgufSummary summarize_gguf(const GgufFile& file, const GgufSummaryOptions& options) {
  GgufSummary s;
  s.path = file.path();
  s.version = file.version();
  s.alignment = file.alignment();
  s.file_size = file.file_size();
  if (const GgufValue* arch = file.find("general.architecture")) {
    if (const auto* name = std::get_if<std::string>(&arch->v)) s.architecture = *name;
  }
  s.metadata.reserve(file.metadata().size());
  for (const auto& [key, value] : file.metadata()) {
    s.metadata.push_back({key, gguf_value_type_label(value), gguf_value_preview(value, options)});
  }
  std::map<uint64_t, GgufLayerBytes> layers;
  s.tensors.reserve(file.tensors().size());
  for (const GgufTensor& t : file.tensors()) {
    s.tensors.push_back({t.name, t.dims, t.dtype, t.nbytes, t.offset});
    // Sums cannot overflow: every tensor lies inside the file.
    s.total_bytes += t.nbytes;
    s.parameters += t.elements();
    const std::string_view name = t.name;
    if (const auto layer = gguf_block_index(name)) {
      GgufLayerBytes& row = layers[*layer];
      row.layer = *layer;
      row.tensors += 1;
      row.bytes += t.nbytes;
    } else if (name.starts_with("token_embd.")) {
      s.embedding_bytes += t.nbytes;
      s.embedding_tensors += 1;
    } else if (name.starts_with("output.") || name.starts_with("output_norm.")) {
      s.output_bytes += t.nbytes;
      s.output_tensors += 1;
    } else {
      s.other_bytes += t.nbytes;
      s.other_tensors += 1;
    }
  }
  for (const auto& [index, row] : layers) s.layers.push_back(row);
  return s;
}

std::string format_byte_size(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(units)) {
    v /= 1024.0;
    ++u;
  }
  return fmt::format("{:.2f} {}", v, units[u]);
}

}  // namespace baton
