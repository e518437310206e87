// The prompt of `baton run`: line editing (arrows, Home/End, Ctrl-R search...) and a
// history kept across runs, with libedit when stdin and stdout are a terminal; a plain
// read(2) loop otherwise (pipes, tests, and builds without libedit). Ctrl-C at the prompt interrupts the read.
#pragma once

#include <memory>
#include <string>

namespace baton::cli {

enum class ReadResult { Line, EndOfInput, Interrupted };

class LineEditor {
 public:
  // `history_file`: where history is loaded from and saved to ("" keeps it in memory).
  explicit LineEditor(std::string history_file);
  ~LineEditor();
  LineEditor(const LineEditor&) = delete;
  LineEditor& operator=(const LineEditor&) = delete;

  ReadResult read(const std::string& prompt, std::string& line);
  bool editing() const { return impl_ != nullptr; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string history_file_;
};

// $XDG_STATE_HOME/baton/run_history (or ~/.local/state/baton/run_history); "" without a home.
std::string default_history_file();

}  // namespace baton::cli
