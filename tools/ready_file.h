// `--ready-file FILE`: a long-running command (`baton node`, `baton coordinator`) tells
// whoever started it (a supervisor, a script, `baton simulate`) that it serves, and on
// which ports, as one JSON object. The file is written whole (a temporary file renamed
// over it), so a reader never sees half of it and never has to parse log lines; it is
// removed when the process stops serving, so a stale file does not claim readiness.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace baton {
class ChildProcess;
}  // namespace baton

namespace baton::cli {

class ReadyFile {
 public:
  ReadyFile() = default;  // no file asked for: does nothing
  // Throws std::runtime_error naming the path if it cannot be written.
  ReadyFile(std::string path, const nlohmann::json& facts);
  ~ReadyFile();
  ReadyFile(const ReadyFile&) = delete;
  ReadyFile& operator=(const ReadyFile&) = delete;
  ReadyFile(ReadyFile&& other) noexcept;
  ReadyFile& operator=(ReadyFile&& other) noexcept;

 private:
  std::string path_;
};

// The facts in a ready file; nullopt while it does not exist yet. Throws
// std::runtime_error if it exists but is not a JSON object (or is implausibly large).
std::optional<nlohmann::json> read_ready_file(const std::string& path);

// Waits for the ready file of a process this one started, reading the process's output
// meanwhile (so its pipes never fill); nullopt when it exits first or `bound` passes.
std::optional<nlohmann::json> wait_for_ready_file(ChildProcess& child, const std::string& path,
                                                  std::chrono::milliseconds bound);

}  // namespace baton::cli
