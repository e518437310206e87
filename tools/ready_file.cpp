#include "tools/ready_file.h"


#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tools/child_process.h"

namespace baton::cli {

namespace {

constexpr std::uintmax_t kMaxReadyFileBytes = 64 * 1024;  // a handful of ports and names

}  // namespace

ReadyFile::ReadyFile(std::string path, const nlohmann::json& facts) : path_(std::move(path)) {
  // The temporary name is unique per process, so two writers never share it.
  const std::string temporary = fmt::format("{}.{}.tmp", path_, getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << facts.dump() << '\n';
    out.flush();
    if (!out) {
      const std::string why = std::strerror(errno);
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw std::runtime_error(fmt::format("cannot write the ready file '{}': {}", path_, why));
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path_, ec);
  if (ec) {
    std::filesystem::remove(temporary, ec);
    throw std::runtime_error(fmt::format("cannot write the ready file '{}': {}", path_, ec.message()));
  }
}

ReadyFile::~ReadyFile() {
  if (path_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

ReadyFile::ReadyFile(ReadyFile&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }

ReadyFile& ReadyFile::operator=(ReadyFile&& other) noexcept {
  if (this != &other) {
    ReadyFile gone(std::move(*this));  // removes what this held
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

std::optional<nlohmann::json> read_ready_file(const std::string& path) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return std::nullopt;  // not written yet
  if (size > kMaxReadyFileBytes) {
    throw std::runtime_error(fmt::format("the ready file '{}' holds {} bytes, more than a ready file can ({})", path,
                                         size, kMaxReadyFileBytes));
  }
  std::ifstream in(path);
  if (!in) return std::nullopt;  // removed between the two calls
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json facts = nlohmann::json::parse(text.str(), nullptr, false);
  if (facts.is_discarded() || !facts.is_object()) {
    throw std::runtime_error(fmt::format("the ready file '{}' is not a JSON object", path));
  }
  return facts;
}

std::optional<nlohmann::json> wait_for_ready_file(ChildProcess& child, const std::string& path,
                                                  std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto facts = read_ready_file(path)) return facts;
    if (!child.running()) return std::nullopt;
    child.drain(std::chrono::milliseconds(50));
  }
  return std::nullopt;
}

}  // namespace baton::cli
