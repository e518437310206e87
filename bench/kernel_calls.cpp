// baton_kernel_calls: runs one weight type's matvec or matmul a given number of times on
// fixed data and nothing else, so that an emulator's instruction trace of two runs with
// different call counts gives the instructions of one call (tools/cross/count-insns.sh).
// No timing; prints only a checksum so the calls cannot be optimised away.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/cpu_features.h"
#include "tensor/dtype.h"
#include "tensor/fp16.h"
#include "tensor/kernels.h"

namespace {

using baton::DType;

constexpr int64_t kRows = 32;
constexpr int64_t kCols = 2048;  // a multiple of every block size
constexpr int64_t kTokens = 8;   // matmul

void print_help() {
  std::printf(
      "baton_kernel_calls: run one weight type's matvec or matmul CALLS times (no timing)\n\n"
      "usage: baton_kernel_calls TYPE matvec|matmul CALLS\n\n"
      "  TYPE   a weight type: f32, f16, bf16, q8_0, q4_0, q5_0, q5_1, iq4_nl, q4_K, q5_K, q6_K\n"
      "  CALLS  how many calls (0 or more); %lld x %lld weights, %lld tokens for matmul\n\n"
      "The active kernel table runs (BATON_FORCE_SCALAR=1: the portable one). Weights are\n"
      "pseudo-random block bytes with small f16 scales, not quantised floats: quantising\n"
      "would cost far more instructions than the calls being counted.\n",
      static_cast<long long>(kRows), static_cast<long long>(kCols), static_cast<long long>(kTokens));
}

// Pseudo-random bytes; for block types, every f16 field at the start of a block (d, and
// m or dmin where the block has one) set to a small normal value.
std::vector<uint8_t> weights(DType t) {
  const size_t bytes = baton::row_bytes(t, kCols) * kRows;
  std::vector<uint8_t> w(bytes);
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (auto& b : w) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    b = static_cast<uint8_t>(s >> 56);
  }
  const auto info = baton::dtype_info(t);
  if (t == DType::F32 || t == DType::F16 || t == DType::BF16) {
    // Keep floats finite: clear each element's exponent top bit.
    const size_t step = info.block_bytes;
    for (size_t i = step - 1; i < bytes; i += step) w[i] &= 0x3F;
    return w;
  }
  const uint16_t small = baton::f32_to_fp16(0.01f);
  const size_t scales = (t == DType::Q5_1 || t == DType::Q4_K || t == DType::Q5_K) ? 2 : 1;
  const size_t offset = t == DType::Q6_K ? info.block_bytes - 2 : 0;  // Q6_K keeps d last
  for (size_t b = 0; b < bytes; b += info.block_bytes) {
    for (size_t k = 0; k < scales; ++k) std::memcpy(&w[b + offset + 2 * k], &small, 2);
  }
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
    print_help();
    return 0;
  }
  if (argc != 4) {
    std::fprintf(stderr, "error: expected TYPE matvec|matmul CALLS (see --help)\n");
    return 2;
  }
  const auto type = baton::parse_dtype(argv[1]);
  if (!type || *type == DType::Q8_K) {
    std::fprintf(stderr, "error: '%s' is not a weight type (see --help)\n", argv[1]);
    return 2;
  }
  const std::string_view op = argv[2];
  if (op != "matvec" && op != "matmul") {
    std::fprintf(stderr, "error: the operation is matvec or matmul, not '%s'\n", argv[2]);
    return 2;
  }
  char* end = nullptr;
  const long calls = std::strtol(argv[3], &end, 10);
  if (*argv[3] == '\0' || *end != '\0' || calls < 0 || calls > 1000000) {
    std::fprintf(stderr, "error: CALLS must be a number from 0 to 1000000, got '%s'\n", argv[3]);
    return 2;
  }
  const std::vector<uint8_t> w = weights(*type);
  const baton::WeightView view{*type, w.data(), kRows, kCols};
  const int64_t tokens = op == "matmul" ? kTokens : 1;
  std::vector<float> x(static_cast<size_t>(kCols * tokens)), y(static_cast<size_t>(kRows * tokens));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(i * 7919 % 2001) - 1000) / 500.0f;
  float checksum = 0.0f;
  for (long c = 0; c < calls; ++c) {
    if (tokens == 1) {
      baton::matvec(view, x.data(), y.data(), nullptr);
    } else {
      baton::matmul(view, x.data(), tokens, y.data(), nullptr);
    }
    checksum += y[static_cast<size_t>(c) % y.size()];
  }
  std::printf("%s %s x%ld (%s kernels): checksum %g\n", argv[1], argv[2], calls, baton::kernel_table_name(),
              static_cast<double>(checksum));
  return 0;
}
