#include "model/frame_cost.h"

#include <algorithm>

#include "model/cost_profile.h"

namespace baton {

double FrameWork::ms(double gflops, double gbs) const {
  return std::max(flops / (gflops * 1e6), bytes / (gbs * 1e6));
}

namespace {

// Sum over rows i in [0, rows) of min(position + i, cap): the earlier positions each row's
// attention visits when at most `cap` are visible.
double attended_capped(double position, double rows, double cap) {
  const double uncapped = std::clamp(cap - position, 0.0, rows);  // rows below the cap
  return uncapped * position + uncapped * (uncapped - 1) / 2.0 + (rows - uncapped) * cap;
}

}  // namespace

FrameWork frame_work(const StageWork& s, const FrameShape& f) {
  const double rows = f.rows;
  const int full_layers = s.layers - s.sliding_layers;
  // Sum over rows i of (position + i): the positions each row's attention visits.
  const double attended = rows * f.position + rows * (rows - 1) / 2.0;
  const double cap = std::max(0, s.window - 1);
  const double attended_sliding = s.sliding_layers > 0 ? attended_capped(f.position, rows, cap) : 0.0;
  // K/V rows read: up to the last row's position; a sliding layer's from the first row's
  // window on.
  const double read = f.position + rows - 1;
  const double read_sliding = std::min(read, cap + rows - 1);
  FrameWork w;
  w.flops = rows * s.layer_flops + s.attention_flops_per_position * attended * full_layers +
            s.attention_flops_per_position * attended_sliding * s.sliding_layers + f.logits_rows * s.head_flops;
  w.bytes = s.layer_bytes + s.kv_bytes_per_position * read * full_layers +
            s.kv_bytes_per_position * read_sliding * s.sliding_layers + rows * s.embed_row_bytes;
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
  s.window = hp.gemma.sliding_window;
  for (int il = w.range.first; il < w.range.last; ++il) s.sliding_layers += hp.gemma.is_sliding(il) && s.window > 0;
  return s;
}

}  // namespace baton
