#include "node/model_identity.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <fstream>
#include <memory>
#include <stdexcept>

namespace baton {

std::vector<uint8_t> sha256(const uint8_t* data, size_t size) {
  std::vector<uint8_t> out(32);
  unsigned int len = 0;
  if (!EVP_Digest(data, size, out.data(), &len, EVP_sha256(), nullptr) || len != 32) {
    throw std::runtime_error("SHA-256 failed");
  }
  return out;
}

std::string to_hex(const std::vector<uint8_t>& bytes) {
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) s += fmt::format("{:02x}", b);
  return s;
}

std::string model_file_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error(fmt::format("cannot open model file '{}'", path));
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  constexpr uint64_t kHead = 8ull << 20, kTail = 1ull << 20;
  std::vector<uint8_t> buf;
  const std::string size_text = std::to_string(size);
  buf.insert(buf.end(), size_text.begin(), size_text.end());
  auto read_range = [&](uint64_t offset, uint64_t n) {
    const size_t start = buf.size();
    buf.resize(start + n);
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(reinterpret_cast<char*>(buf.data() + start), static_cast<std::streamsize>(n));
    if (!in) throw std::runtime_error(fmt::format("cannot read model file '{}'", path));
  };
  read_range(0, std::min(size, kHead));
  if (size > kHead) read_range(size - std::min(size - kHead, kTail), std::min(size - kHead, kTail));
  return to_hex(sha256(buf.data(), buf.size()));
}

}  // namespace baton
