// A LAN of network namespaces for tests: `hosts` namespaces, each with one veth (eth0) on
// a bridge that lives in its own "switch" namespace, addresses 198.18.0.(10+i)/24 (the
// benchmarking range, RFC 2544) and a multicast route, so mDNS works as on a home network.
// Nothing is created in, or sent to, the machine's own network namespace. Needs root;
// `skip_reason()` says why it cannot be built otherwise. Everything is removed by the
// destructor, and namespaces left by a killed earlier run are removed at start.
#pragma once

#include <signal.h>
#include <cerrno>
#include <cstdlib>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tools/child_process.h"

namespace baton::test {

// The full path of a program (child processes are started without a PATH search); empty
// if absent. root's sbin directories are searched too.
inline std::string find_program(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/sbin:/usr/bin:/bin";
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    const std::filesystem::path candidate = std::filesystem::path(dir) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

class NetnsLan {
 public:
  explicit NetnsLan(int hosts) : prefix_("btlan" + std::to_string(getpid()) + "-") {
    if (geteuid() != 0) {
      skip_ = "needs root to create network namespaces (CI runs as root)";
      return;
    }
    ip_ = find_program("ip");
    if (ip_.empty() || run({ip_, "-V"}).code != 0) {
      skip_ = "needs the `ip` command (iproute2) to build network namespaces";
      return;
    }
    remove_stale();
    const std::string sw = prefix_ + "sw";
    if (auto r = run({"ip", "netns", "add", sw}); r.code != 0) {
      skip_ = "cannot create network namespaces here (" + first_line(r.err) + ")";
      return;
    }
    created_.push_back(sw);
    step({"ip", "-n", sw, "link", "set", "lo", "up"});
    step({"ip", "-n", sw, "link", "add", "br0", "type", "bridge"});
    step({"ip", "-n", sw, "link", "set", "br0", "up"});
    for (int i = 0; i < hosts && error_.empty(); ++i) {
      const std::string host = ns(i), port = "p" + std::to_string(i);
      step({"ip", "netns", "add", host});
      if (error_.empty()) created_.push_back(host);
      step({"ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", host});
      step({"ip", "-n", sw, "link", "set", port, "master", "br0", "up"});
      step({"ip", "-n", host, "link", "set", "lo", "up"});
      step({"ip", "-n", host, "addr", "add", ip(i) + "/24", "dev", "eth0"});
      step({"ip", "-n", host, "link", "set", "eth0", "up"});
      step({"ip", "-n", host, "route", "add", "224.0.0.0/4", "dev", "eth0"});
    }
  }
  ~NetnsLan() {
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) run({"ip", "netns", "del", *it});
  }
  NetnsLan(const NetnsLan&) = delete;
  NetnsLan& operator=(const NetnsLan&) = delete;

  const std::string& skip_reason() const { return skip_; }
  const std::string& error() const { return error_; }
  std::string ns(int i) const { return prefix_ + "h" + std::to_string(i); }
  static std::string ip(int i) { return "198.18.0." + std::to_string(10 + i); }
  // argv run inside host i's namespace.
  std::vector<std::string> in(int i, std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {ip_, "netns", "exec", ns(i)});
    return argv;
  }

 private:
  RunResult run(std::vector<std::string> argv) const {
    if (!argv.empty() && argv[0] == "ip") argv[0] = ip_;
    return run_command(argv, std::chrono::seconds(20));
  }
  static std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }
  void step(const std::vector<std::string>& argv) {
    if (!error_.empty()) return;
    if (auto r = run(argv); r.code != 0) {
      std::string cmd;
      for (const auto& a : argv) cmd += a + " ";
      error_ = cmd + "failed: " + first_line(r.err);
    }
  }
  // Namespaces named by this scheme whose test process no longer exists.
  void remove_stale() const {
    const std::filesystem::path dir = "/run/netns";
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("btlan", 0) != 0) continue;
      const pid_t pid = static_cast<pid_t>(std::atol(name.c_str() + 5));
      if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) run({"ip", "netns", "del", name});
    }
  }

  std::string prefix_;
  std::string ip_;
  std::string skip_, error_;
  std::vector<std::string> created_;
};

}  // namespace baton::test
