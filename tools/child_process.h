// A child process (integration tests, local clusters for benchmarks): argv in, output captured, bounded waits,
// and SIGTERM (then SIGKILL) on destruction so nothing is left behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace baton {

class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> argv, std::vector<std::string> extra_env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads output until a line of stdout matches; returns the match (nullopt on timeout or exit).
  std::optional<std::smatch> wait_for_line(const std::regex& pattern, std::chrono::milliseconds timeout);
  // Reads what the child has written, waiting at most `budget` for something to arrive, so
  // that it never blocks on a full pipe while the caller waits for something else. Lines
  // read stay available to wait_for_line.
  void drain(std::chrono::milliseconds budget) { pump(budget); }
  // Waits for exit; returns the exit code (128+signal), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  void signal(int sig);
  bool running();
  pid_t pid() const { return pid_; }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  void pump(std::chrono::milliseconds budget);

  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  std::string out_, err_;
  size_t scanned_lines_ = 0;
  std::optional<int> status_;
  std::vector<std::string> lines_;
  std::string partial_;
};

// The last `lines` lines of a process's output, for error messages.
std::string last_lines(const std::string& text, size_t lines);

// Runs a command to completion (bounded) and returns {exit code, stdout, stderr}.
struct RunResult {
  int code = -1;
  std::string out, err;
};
RunResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                      std::vector<std::string> extra_env = {});

}  // namespace baton
