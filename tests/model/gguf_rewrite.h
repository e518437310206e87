// Copies of GGUF files with keys and tensors changed, for tests of what loading refuses.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "model/model.h"

namespace baton::test {

struct Edit {
  std::function<bool(const std::string& key, GgufValue& value)> metadata;  // false: drop key
  std::function<bool(GgufTensor& t, std::vector<uint8_t>& data)> tensor;   // false: drop tensor
};

// Copies a GGUF file through GgufWriter, letting the test change, drop and `add` keys and
// tensors; the copy is build/test-models/NAME.gguf.
inline std::string rewrite(const std::string& src, const std::string& name, const Edit& edit,
                           const std::function<void(GgufWriter&)>& add = nullptr) {
  GgufFile f = GgufFile::open(src);
  GgufWriter w;
  for (const auto& [key, value] : f.metadata()) {
    GgufValue v = value;
    if (edit.metadata && !edit.metadata(key, v)) continue;
    w.set(key, v);
  }
  for (const GgufTensor& t0 : f.tensors()) {
    GgufTensor t = t0;
    std::vector<uint8_t> data(t.data, t.data + t.nbytes);
    if (edit.tensor && !edit.tensor(t, data)) continue;
    w.add_tensor(t.name, t.dims, t.dtype, std::move(data));
  }
  if (add) add(w);
  const auto path = std::filesystem::path(BATON_BINARY_DIR) / "test-models" / (name + ".gguf");
  w.write(path.string());
  return path.string();
}

// What Model::open says about a file ("" when it loads).
inline std::string load_error(const std::string& path) {
  try {
    Model::open(path, {});
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace baton::test
