// Writes the seed corpora under fuzz/corpus/<target>/ with the project's own encoders, so
// every fuzz target starts from inputs that reach deep (valid frames, announcements, GGUF
// headers, request bodies, heartbeats, handshakes) rather than from random bytes. The
// files are committed; run this again when a format changes:
//   cmake --build build --target fuzz_write_seeds && ./build/tests/fuzz/fuzz_write_seeds fuzz/corpus
// Crash files a fuzzer finds go next to them (fuzz/corpus/<target>/crash-*), and ctest
// replays both (tests/fuzz/CMakeLists.txt).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "discovery/dns_message.h"
#include "discovery/responder_core.h"
#include "discovery/service_record.h"
#include "model/gguf.h"
#include "tensor/kernels.h"
#include "transport/activation_frame.h"
#include "transport/handshake_messages.h"
#include "transport/secure_channel.h"
#include "transport/spake2.h"
#include "transport/telemetry.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

void write(const fs::path& dir, const std::string& name, const Bytes& bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  std::printf("%s (%zu bytes)\n", (dir / name).c_str(), bytes.size());
}

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

// A seed meant to be valid must decode, or it only exercises the first check.
void must(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "seed '%s' does not decode: fix the writer\n", what);
    std::exit(1);
  }
}

// frame_fuzz's layout: rows u16, cols u16, codec u8, zstd flag u8, 2 spare, CRC u32, payload.
void frames(const fs::path& dir) {
  std::vector<float> values(2 * 64);
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::sin(0.37f * static_cast<float>(i)) * 3.0f;
  baton::FrameCodec codec;
  for (const char* wire : {"f32", "f16", "int8", "f32+zstd", "int8+zstd"}) {
    const baton::ActivationFrame f = codec.encode(7, 1, values.data(), 2, 64, baton::parse_wire_format(wire));
    Bytes b(12, 0);
    const uint16_t rows = static_cast<uint16_t>(f.rows), cols = static_cast<uint16_t>(f.cols);
    std::memcpy(b.data(), &rows, 2);
    std::memcpy(b.data() + 2, &cols, 2);
    b[4] = static_cast<uint8_t>(f.codec);
    b[5] = f.zstd ? 1 : 0;
    std::memcpy(b.data() + 8, &f.checksum, 4);
    b.insert(b.end(), f.payload.begin(), f.payload.end());
    must(codec.decode(f, baton::FrameLimits{64, 8}).size() == values.size(), wire);
    std::string name = wire;
    for (char& c : name) c = c == '+' ? '-' : c;
    write(dir, "seed-" + name, b);
  }
}

void gguf(const fs::path& dir) {
  baton::GgufWriter header_only;
  header_only.set_string("general.architecture", "llama");
  header_only.set_u32("llama.block_count", 1);
  header_only.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b"});
  header_only.set_f32_array("tokenizer.ggml.scores", {0, 0, 0, -1, -2});
  header_only.set_bool("tokenizer.ggml.add_bos_token", true);
  write(dir, "seed-metadata-only", header_only.serialize());

  baton::GgufWriter tensors;
  tensors.set_string("general.architecture", "qwen2");
  tensors.set_u32("general.alignment", 32);
  tensors.set_f32("qwen2.rope.freq_base", 1e6f);
  std::vector<float> v(64);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) / 8.0f - 4.0f;
  Bytes f32(v.size() * 4);
  std::memcpy(f32.data(), v.data(), f32.size());
  tensors.add_tensor("blk.0.attn_norm.weight", {64}, baton::DType::F32, f32);
  Bytes q8(baton::row_bytes(baton::DType::Q8_0, 64));
  baton::quantize_row(baton::DType::Q8_0, v.data(), q8.data(), 64);
  tensors.add_tensor("blk.0.attn_q.weight", {64, 1}, baton::DType::Q8_0, q8);
  const Bytes whole = tensors.serialize();
  must(baton::GgufFile::parse(whole, "seed", baton::GgufLimits{}).tensors().size() == 2, "gguf two tensors");
  write(dir, "seed-two-tensors", whole);
  write(dir, "seed-truncated", Bytes(whole.begin(), whole.begin() + static_cast<long>(whole.size() / 2)));

  // The shipped model's first 4 KiB (the fuzzer's -max_len): a real header and the start of
  // a real tokenizer table, cut where the fuzzer would.
  std::ifstream model(std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf", std::ios::binary);
  Bytes head(4096);
  model.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  must(model.gcount() == 4096, "shipped model head");
  write(dir, "seed-shipped-model-head", head);
}

void dns(const fs::path& dir) {
  using namespace baton::discovery;
  NodeAttributes a;
  a.node_id = "seed-node";
  a.kind = "phone";
  baton::discovery::ResponderCore core(
      build_service_records(ServiceAdvert{"seed node", 7000, a}, {192, 168, 1, 20}, RecordTtls{}));
  const Bytes announcement = write_dns_message(core.announcement(TimePoint{}));
  must(static_cast<bool>(parse_dns_message(announcement)), "dns announcement");
  write(dir, "seed-announcement", announcement);
  write(dir, "seed-goodbye", write_dns_message(core.goodbye()));
  write(dir, "seed-probe", write_dns_message(core.probe()));
}

// http_fuzz: the first byte's low bit says "chat"; the rest is the body (and an SSE stream).
Bytes flagged(uint8_t flag, const std::string& body) {
  Bytes b{flag};
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

void http(const fs::path& dir) {
  write(dir, "seed-completion", flagged(0, "{\"prompt\":\"In the beginning\",\"max_tokens\":8,\"temperature\":0}"));
  write(dir, "seed-completion-stream",
        flagged(2, "{\"prompt\":[\"a\",\"b\"],\"stream\":true,\"stop\":[\"\\n\"],\"n\":2,\"top_p\":0.9,\"seed\":3}"));
  write(dir, "seed-chat",
        flagged(1, "{\"model\":\"baton-model\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                   "{\"role\":\"user\",\"content\":\"Hi \\u00e9\"}],\"max_tokens\":4}"));
  write(dir, "seed-sse", flagged(5, "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: [DONE]\n\n"));
  write(dir, "seed-bad-json", flagged(1, "{\"messages\":[{\"role\":\"user\",\"content\":"));
}

void telemetry(const fs::path& dir) {
  baton::Telemetry t;
  t.node = "seed-node";
  t.sequence = 42;
  t.uptime_ms = 123456;
  t.sessions = 2;
  t.used_mib = 300;
  t.rss_mib = 310;
  t.peak_rss_mib = 400;
  t.frames = 1000;
  t.batches = 900;
  t.compute_us = 5'000'000;
  t.offered_mib = 2048;
  t.temperature_c = 41.5;
  t.battery_percent = 80;
  t.charging = true;
  const Bytes heartbeat = baton::encode_telemetry(t);
  must(baton::decode_telemetry(heartbeat).sequence == 42, "heartbeat");
  write(dir, "seed-heartbeat", heartbeat);
  baton::Telemetry bare;
  bare.node = "pc";
  write(dir, "seed-heartbeat-bare", baton::encode_telemetry(bare));
}

void handshake(const fs::path& dir) {
  using namespace baton;
  const std::string id_a = channel_identity("coordinator"), id_b = channel_identity("node");
  Spake2 a(Spake2::Side::A, "fuzz-secret", Bytes(32, 5));
  Spake2 b(Spake2::Side::B, "fuzz-secret", Bytes(32, 9));
  const Spake2Result rb = b.finish(a.share(), id_a, id_b, kChannelAad);
  const Spake2Result ra = a.finish(b.share(), id_a, id_b, kChannelAad);
  write(dir, "seed-client-hello", encode_handshake(ClientHello{1, "coordinator", a.share()}));
  write(dir, "seed-server-hello", encode_handshake(ServerHello{1, "node", b.share(), rb.my_confirmation}));
  write(dir, "seed-client-confirm", encode_handshake(ClientConfirm{ra.my_confirmation}));
  write(dir, "seed-accepted", encode_handshake(Accepted{}));
  write(dir, "seed-refusal", encode_handshake(Refusal{1, "this node was started with a different cluster secret"}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_ROOT (fuzz/corpus)\n", argv[0]);
    return 2;
  }
  const fs::path root(argv[1]);
  frames(root / "frame");
  gguf(root / "gguf");
  dns(root / "dns");
  http(root / "http");
  telemetry(root / "telemetry");
  handshake(root / "handshake");
  return 0;
}
