// What the reader extracts from a GGUF image, shared by the reader (which fills it) and
// GgufFile (which owns it). Internal to model/.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "model/gguf.h"

namespace baton {

struct GgufContents {
  std::string label;  // file path or caller's label; starts every error message
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t file_size = 0;
  uint64_t data_offset = 0;  // absolute start of the data section
  std::map<std::string, GgufValue> metadata;
  std::vector<GgufTensor> tensors;
  std::map<std::string, size_t, std::less<>> tensor_index;
};

// Validates the image at `data` (size bytes; it must outlive `out`, whose tensor data
// pointers point into it) and fills out's fields. `out.label` must be set. Throws GgufError.
void parse_gguf_image(const uint8_t* data, uint64_t size, const GgufLimits& limits, GgufContents& out);

}  // namespace baton
