#include "model/frame_cost.h"

#include <algorithm>

#include "model/cost_profile.h"

namespace baton {

double FrameWork::ms(double gflops, double gbs) const {
  return std::max(flops / (gflops * 1e6), bytes / (gbs * 1e6));
}

FrameWork frame_work(const StageWork& s, const FrameShape& f) {
  const double rows = f.rows;
  // Sum over rows i of (position + i): the positions each row's attention visits.
  const double attended = rows * f.position + rows * (rows - 1) / 2.0;
  FrameWork w;
  w.flops = rows * s.layer_flops + s.attention_flops_per_position * attended * s.layers + f.logits_rows * s.head_flops;
  w.bytes = s.layer_bytes + s.kv_bytes_per_position * (f.position + rows - 1) * s.layers + rows * s.embed_row_bytes;
  if (f.logits_rows > 0) w.bytes += s.head_bytes;
  return w;
}

StageWork stage_work(const StageWeights& w, const HyperParams& hp, DType kv_dtype) {
  auto elements = [](const WeightView& v) { return static_cast<double>(v.rows) * static_cast<double>(v.cols); };
  auto bytes = [](const WeightView& v) {
    return static_cast<double>(row_bytes(v.dtype, static_cast<uint64_t>(v.cols))) * static_cast<double>(v.rows);
  };
  StageWork s;
  s.layers = w.range.size();
  for (const LayerWeights& l : w.layers) {
    for (const WeightView* m : {&l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output, &l.ffn_gate, &l.ffn_up, &l.ffn_down}) {
      s.layer_flops += 2 * elements(*m);
      s.layer_bytes += bytes(*m);
    }
  }
  if (w.has_head) {
    s.head_flops = 2 * elements(w.output);
    s.head_bytes = bytes(w.output);
  }
  if (w.has_embedding && w.token_embedding.rows > 0) s.embed_row_bytes = bytes(w.token_embedding) / w.token_embedding.rows;
  s.attention_flops_per_position = 4.0 * hp.n_heads * hp.head_dim;
  s.kv_bytes_per_position = 2.0 * hp.kv_dim() * kv_bytes_per_element(kv_dtype);
  return s;
}

}  // namespace baton
