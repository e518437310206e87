// A local cluster for the soak runs: `baton node` processes and a `baton coordinator`
// serving HTTP on loopback, ports learnt from their --ready-file. Everything it starts
// is stopped when it goes away.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tools/child_process.h"

namespace baton::soak {

struct SoakClusterOptions {
  std::string baton;                          // the `baton` executable
  std::string model;
  std::string work_dir;                       // caches and ready files
  int nodes = 2;
  std::string wire = "int8+zstd";
  std::vector<std::string> node_args;         // added to every node's command line
  std::vector<std::string> coordinator_args;  // added to the coordinator's
};

class SoakCluster {
 public:
  // Throws std::runtime_error with the failing process's last log lines.
  explicit SoakCluster(const SoakClusterOptions& options);

  int http_port() const { return http_port_; }
  size_t size() const { return nodes_.size(); }
  std::string node_address(size_t i) const;
  ChildProcess& node(size_t i) { return *nodes_.at(i); }
  ChildProcess& coordinator() { return *coordinator_; }
  const std::string& secret() const { return secret_; }
  // Reads what the processes wrote so far, so no pipe fills up and blocks them.
  void drain_output();

 private:
  std::string secret_;
  std::vector<std::unique_ptr<ChildProcess>> nodes_;
  std::vector<int> node_ports_;
  std::unique_ptr<ChildProcess> coordinator_;
  int http_port_ = 0;
};

}  // namespace baton::soak
