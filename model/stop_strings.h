// Finds stop strings in streamed text without ever emitting part of one: text that could
// still become a stop string is held back until it either completes or diverges.
#pragma once

#include <string>
#include <vector>

namespace baton {

class StopStringFilter {
 public:
  explicit StopStringFilter(std::vector<std::string> stops);
  // Feeds new text; returns the text that is safe to emit now. After a stop string is
  // found, stopped() is true and the stop string and everything after it are dropped.
  std::string push(const std::string& text);
  // End of generation: what was held back (nothing if stopped).
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace baton
