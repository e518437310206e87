#include "node/stage/verified_tensors.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "node/model_identity.h"

namespace fs = std::filesystem;

namespace baton {

namespace {

constexpr uintmax_t kMaxRecordBytes = 16u << 20;  // ~100k tensors; models have < 2k

// The file's identity: what changes when its bytes may have changed.
std::string file_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error(fmt::format("cannot stat model file '{}'", path));
  const std::string id = fmt::format("{}|{}|{}|{}|{}.{}|{}.{}", fs::weakly_canonical(path).string(), st.st_dev, st.st_ino,
                                     st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  return to_hex(sha256(reinterpret_cast<const uint8_t*>(id.data()), id.size()));
}

std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out;
  if (hex.size() % 2 != 0) return {};
  for (size_t i = 0; i < hex.size(); i += 2) {
    unsigned value = 0;
    for (size_t k = i; k < i + 2; ++k) {
      const char c = hex[k];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return {};
      value = value * 16 + static_cast<unsigned>(d);
    }
    out.push_back(static_cast<uint8_t>(value));
  }
  return out;
}

}  // namespace

VerifiedTensors VerifiedTensors::load(const std::string& cache_dir, const std::string& model_path) {
  VerifiedTensors v;
  v.record_path_ = (fs::path(cache_dir) / "verified" / (file_identity(model_path) + ".txt")).string();
  std::error_code ec;
  const uintmax_t size = fs::file_size(v.record_path_, ec);
  if (ec || size > kMaxRecordBytes) return v;
  std::ifstream in(v.record_path_);
  // One "name sha256-hex" per line; a line that does not parse voids the whole record.
  for (std::string line; std::getline(in, line);) {
    const size_t space = line.rfind(' ');
    std::vector<uint8_t> sha = space == std::string::npos ? std::vector<uint8_t>{} : from_hex(line.substr(space + 1));
    if (space == 0 || sha.size() != 32) {
      spdlog::warn("ignoring unreadable verification record {}", v.record_path_);
      v.known_.clear();
      return v;
    }
    v.known_[line.substr(0, space)] = std::move(sha);
  }
  return v;
}

void VerifiedTensors::save() const {
  try {
    fs::create_directories(fs::path(record_path_).parent_path());
    std::ostringstream out;
    for (const auto& [name, sha] : known_) out << name << ' ' << to_hex(sha) << '\n';
    const std::string tmp = fmt::format("{}.{}.tmp", record_path_, ::getpid());  // nodes may share a cache
    {
      std::ofstream f(tmp, std::ios::trunc);
      f << out.str();
      if (!f.flush()) throw std::runtime_error("write failed");
    }
    fs::rename(tmp, record_path_);
  } catch (const std::exception& e) {
    spdlog::warn("cannot remember verified tensors in {} ({}): the next start hashes them again", record_path_, e.what());
  }
}

}  // namespace baton
