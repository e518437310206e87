#pragma once
// Helpers for discovery tests that use real sockets and processes: bounded polling,
// unique names, child processes with captured output, free UDP ports.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace baton::discovery::testing {

// Polls `condition` every 20 ms until it holds or `timeout` passes. Never asserts on time;
// the timeout only bounds the wait.
inline bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// A node name no other test (or concurrently running test binary) will use.
inline std::string unique_name(const std::string& prefix) {
  std::random_device rd;
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000);
}

// A UDP port that was free a moment ago (bound with port 0, then released).
inline std::uint16_t free_udp_port() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A child process with stdout+stderr going to a temporary file. Killed (SIGKILL) on
// destruction if still running, so a failing test leaves nothing behind.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv) {
    char path[] = "/tmp/baton-discovery-test-XXXXXX";
    int fd = ::mkstemp(path);
    output_path_ = path;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      std::perror("execvp");
      ::_exit(127);
    }
    ::close(fd);
  }
  ~ChildProcess() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      wait(std::chrono::seconds(5));
    }
    ::unlink(output_path_.c_str());
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool running() const { return pid_ > 0 && !exited_; }
  void signal(int sig) const {
    if (running()) ::kill(pid_, sig);
  }
  // Waits (bounded) for the exit; returns the exit status or -1 if still running.
  int wait(std::chrono::milliseconds timeout) {
    wait_until([&] {
      if (exited_) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      return exited_;
    }, timeout);
    return exited_ ? status_ : -1;
  }
  std::string output() const { return read_file(output_path_); }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = -1;
  std::string output_path_;
};

// Runs a command to completion (bounded by `timeout` via coreutils `timeout`) and
// returns its exit code and combined output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
inline CommandResult run_command(std::vector<std::string> argv, std::chrono::seconds timeout) {
  argv.insert(argv.begin(), {"timeout", "-k", "2", std::to_string(timeout.count())});
  ChildProcess child(argv);
  CommandResult r;
  r.exit_code = child.wait(timeout + std::chrono::seconds(5));
  r.output = child.output();
  return r;
}

inline bool have_program(const std::string& name) {
  return run_command({"sh", "-c", "command -v " + name}, std::chrono::seconds(5)).exit_code == 0;
}

}  // namespace baton::discovery::testing
