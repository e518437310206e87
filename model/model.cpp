#include "model/model.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace baton {

namespace {

// Touches one byte per page of every tensor the stage uses, in file order, so the OS
// reads them now (with progress) rather than during the first forward.
void prefault_tensors(const StageWeights& w, const std::function<void(uint64_t, uint64_t)>& progress) {
  std::vector<std::pair<const uint8_t*, uint64_t>> spans;
  auto add = [&](const void* p, uint64_t n) {
    if (p && n) spans.emplace_back(static_cast<const uint8_t*>(p), n);
  };
  auto add_matrix = [&](const WeightView& v) {
    if (v.data) add(v.data, row_bytes(v.dtype, static_cast<uint64_t>(v.cols)) * static_cast<uint64_t>(v.rows));
  };
  if (w.has_embedding) add_matrix(w.token_embedding);
  for (const auto& L : w.layers) {
    for (const WeightView* m : {&L.attn_q, &L.attn_k, &L.attn_v, &L.attn_output, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) {
      add_matrix(*m);
    }
  }
  if (w.has_head && w.output.data != w.token_embedding.data) add_matrix(w.output);
  uint64_t total = 0;
  for (auto& s : spans) total += s.second;
  uint64_t done = 0, next_report = 0;
  constexpr uint64_t kPage = 4096, kReportEvery = 16ull << 20;
  volatile uint8_t sink = 0;
  for (auto& [p, n] : spans) {
    for (uint64_t off = 0; off < n; off += kPage) {
      sink = static_cast<uint8_t>(sink + p[off]);
      if (progress && done + off >= next_report) {
        progress(done + off, total);
        next_report = done + off + kReportEvery;
      }
    }
    done += n;
  }
  if (progress) progress(total, total);
}

}  // namespace

Model::Model(GgufFile file) : file_(std::move(file)) {}

std::unique_ptr<Model> Model::open(const std::string& path, const ModelOpenOptions& opt) {
  std::unique_ptr<Model> m(new Model(GgufFile::open(path)));
  m->hparams_ = read_hparams(m->file_);
  const HyperParams& hp = m->hparams_;
  const LayerRange range = opt.range.value_or(LayerRange{0, hp.n_layers});
  const bool embed = opt.with_embedding.value_or(range.first == 0);
  const bool head = opt.with_head.value_or(range.last == hp.n_layers);
  m->weights_ = bind_stage_weights(m->file_, hp, range, embed, head, m->owned_f32_);
  m->transformer_ = std::make_unique<Transformer>(hp, m->weights_);
  if (opt.with_tokenizer) {
    m->tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::from_gguf(m->file_));
    if (m->tokenizer_->vocab_size() != hp.vocab_size) {
      throw GgufError(fmt::format("{}: tokenizer has {} tokens but token_embd.weight has {} rows",
                                  path, m->tokenizer_->vocab_size(), hp.vocab_size));
    }
  }
  if (opt.prefault) m->prefault(opt.progress);
  return m;
}

void Model::prefault(const std::function<void(uint64_t, uint64_t)>& progress) const {
  prefault_tensors(weights_, progress);
}

const Tokenizer& Model::tokenizer() const {
  if (!tokenizer_) throw std::logic_error("model was opened without its tokenizer");
  return *tokenizer_;
}

std::string Model::chat_template_source() const {
  return file_.opt_string("tokenizer.chat_template").value_or("");
}

}  // namespace baton
