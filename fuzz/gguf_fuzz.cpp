// libFuzzer target for the GGUF reader. Any input must either parse or throw GgufError;
// anything else (a crash, a sanitizer report, another exception) is a bug. A file that
// parses must also survive the summary, and re-encoding it with GgufWriter must give a
// file that parses to the same contents.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "model/gguf.h"
#include "model/gguf_summary.h"

namespace {

// Small limits keep each run fast without changing which code paths are reachable.
baton::GgufLimits fuzz_limits() {
  baton::GgufLimits limits;
  limits.max_tensors = 256;
  limits.max_kv = 256;
  limits.max_array_items = 1 << 16;
  limits.max_metadata_bytes = 1 << 24;
  return limits;
}

void check(bool ok) {
  if (!ok) std::abort();
}

void roundtrip(const baton::GgufFile& f) {
  baton::GgufWriter w(f.version(), f.alignment());
  for (const auto& [key, value] : f.metadata()) w.set(key, value);
  for (const baton::GgufTensor& t : f.tensors()) {
    w.add_tensor(t.name, t.dims, t.dtype, std::vector<uint8_t>(t.data, t.data + t.nbytes));
  }
  const baton::GgufFile g = baton::GgufFile::parse(w.serialize(), "roundtrip", fuzz_limits());
  check(g.metadata().size() == f.metadata().size());
  check(g.tensors().size() == f.tensors().size());
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const baton::GgufTensor& a = f.tensors()[i];
    const baton::GgufTensor& b = g.tensors()[i];
    check(a.name == b.name && a.dims == b.dims && a.dtype == b.dtype && a.nbytes == b.nbytes);
    check(std::memcmp(a.data, b.data, a.nbytes) == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const baton::GgufFile f = baton::GgufFile::parse(std::vector<uint8_t>(data, data + size), "fuzz", fuzz_limits());
    const baton::GgufSummary s = baton::summarize_gguf(f);
    check(baton::render_gguf_summary_text(s).size() > 0);
    check(baton::render_gguf_summary_json(f, s).size() > 0);
    roundtrip(f);
  } catch (const baton::GgufError&) {
    // Rejected with a message: the expected outcome for most inputs.
  }
  return 0;
}
