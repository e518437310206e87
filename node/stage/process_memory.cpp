#include "node/stage/process_memory.h"

#include <fstream>
#include <string>

namespace baton {

ProcessMemory read_process_memory(int pid) {
  ProcessMemory m;
  std::ifstream status(pid == 0 ? std::string("/proc/self/status") : "/proc/" + std::to_string(pid) + "/status");
  std::string line;
  auto kib = [](const std::string& l) { return std::stoull(l.substr(l.find_first_of("0123456789"))) * 1024; };
  while (std::getline(status, line)) {
    // Lines look like "VmRSS:     12345 kB".
    if (line.rfind("VmRSS:", 0) == 0) m.rss_bytes = kib(line);
    if (line.rfind("VmHWM:", 0) == 0) m.peak_bytes = kib(line);
  }
  return m;
}

}  // namespace baton
