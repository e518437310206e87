#include "transport/wire_convert.h"

#include <fmt/format.h>
#include <zstd.h>

namespace baton {

StageTimingRecord timing_from_wire(rpc::StageTiming::Reader t) {
  return {t.getStage(),       t.getComputeMicros(),  t.getDecodeMicros(), t.getRawBytes(),
          t.getWireBytes(),   t.getReceivedNanos(),  t.getSentNanos()};
}

void timing_to_wire(const StageTimingRecord& t, rpc::StageTiming::Builder out) {
  out.setStage(t.stage);
  out.setComputeMicros(t.compute_us);
  out.setDecodeMicros(t.decode_us);
  out.setRawBytes(t.raw_bytes);
  out.setWireBytes(t.wire_bytes);
  out.setReceivedNanos(t.received_ns);
  out.setSentNanos(t.sent_ns);
}

ActivationFrame activation_from_wire(rpc::Activation::Reader a, uint64_t session, uint64_t step,
                                     const FrameLimits& limits) {
  const uint64_t largest = ZSTD_compressBound(uint64_t{limits.max_rows} * limits.expected_cols * sizeof(float));
  if (a.getPayload().size() > largest) {
    throw FrameError(fmt::format("payload of {} bytes is larger than any {}-row frame of dim {} can be",
                                 a.getPayload().size(), limits.max_rows, limits.expected_cols));
  }
  ActivationFrame f;
  f.session = session;
  f.step = step;
  f.rows = a.getRows();
  f.cols = a.getCols();
  f.codec = a.getCodec();
  f.zstd = a.getZstd();
  f.checksum = a.getChecksum();
  auto payload = a.getPayload();
  f.payload.assign(payload.begin(), payload.end());
  return f;
}

void activation_to_wire(const ActivationFrame& f, rpc::Activation::Builder out) {
  out.setRows(f.rows);
  out.setCols(f.cols);
  out.setCodec(f.codec);
  out.setZstd(f.zstd);
  out.setChecksum(f.checksum);
  out.setPayload(kj::arrayPtr(f.payload.data(), f.payload.size()));
}

}  // namespace baton
