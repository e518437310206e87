// Identifies a model file cheaply (no full read of a multi-GB file): SHA-256 over its
// size, its first 8 MiB (header, metadata, tensor table) and its last 1 MiB.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace baton {

std::string model_file_hash(const std::string& path);  // 64 hex chars; throws on I/O error
std::vector<uint8_t> sha256(const uint8_t* data, size_t size);
std::string to_hex(const std::vector<uint8_t>& bytes);

}  // namespace baton
