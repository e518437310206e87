#include "transport/compute_pacer.h"

#include <algorithm>
#include <cmath>

namespace baton {

ComputePacer::ComputePacer(double factor) : factor_(factor < 1 ? 1 : factor) {}

ComputePacer::ComputePacer(double device_gflops, double device_gbs) : gflops_(device_gflops), gbs_(device_gbs) {}

bool ComputePacer::paced() const { return gflops_ > 0 && gbs_ > 0 ? stage_.has_value() : factor_ > 1; }

int64_t ComputePacer::device_ns(int64_t real_ns) const {
  if (gflops_ > 0 && gbs_ > 0) {
    const FrameWork batch{batch_flops_, batch_shared_bytes_ + batch_own_bytes_};
    // Never faster than it really took here: this machine cannot be sped up.
    return std::max(real_ns, static_cast<int64_t>(std::llround(batch.ms(gflops_, gbs_) * 1e6)));
  }
  return static_cast<int64_t>(std::llround(static_cast<double>(real_ns) * factor_));
}

ComputePacer::Paced ComputePacer::finish(int64_t end_ns, uint64_t compute_us, const FrameShape& frame) {
  if (!paced()) return {end_ns, compute_us};
  const int64_t real_ns = static_cast<int64_t>(compute_us) * 1000;
  const bool same_batch = compute_us == last_compute_us_ && end_ns - real_ns < last_end_ns_;
  last_end_ns_ = end_ns;
  last_compute_us_ = compute_us;
  if (!same_batch) {
    // The device starts this batch when it really started here, or when it is done with
    // the previous one, whichever is later.
    batch_start_ns_ = std::max(end_ns - real_ns, busy_until_ns_);
    batch_flops_ = batch_shared_bytes_ = batch_own_bytes_ = 0;
  }
  if (stage_) {
    const FrameWork w = frame_work(*stage_, frame);
    const double shared = stage_->layer_bytes + (frame.logits_rows > 0 ? stage_->head_bytes : 0.0);
    batch_flops_ += w.flops;
    batch_own_bytes_ += w.bytes - shared;
    batch_shared_bytes_ = std::max(batch_shared_bytes_, shared);
  }
  const int64_t device = device_ns(real_ns);
  busy_until_ns_ = batch_start_ns_ + device;
  return {std::max(busy_until_ns_, end_ns), static_cast<uint64_t>((device + 500) / 1000)};
}

}  // namespace baton
