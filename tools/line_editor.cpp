#include "tools/line_editor.h"

#if BATON_HAVE_LIBEDIT
#include <histedit.h>
#endif
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace baton::cli {

namespace {

constexpr int kHistorySize = 1000;

// A read(2) loop, so Ctrl-C (EINTR: the SIGINT handler has no SA_RESTART) ends the wait;
// std::getline retries inside stdio and would not.
ReadResult read_plain(const std::string& prompt, std::string& line) {
  std::fputs(prompt.c_str(), stdout);
  std::fflush(stdout);
  line.clear();
  char c;
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n == 1) {
      if (c == '\n') return ReadResult::Line;
      line += c;
    } else if (n == 0) {
      return line.empty() ? ReadResult::EndOfInput : ReadResult::Line;
    } else if (errno == EINTR) {
      return ReadResult::Interrupted;
    } else {
      return ReadResult::EndOfInput;
    }
  }
}

}  // namespace

#if BATON_HAVE_LIBEDIT
struct LineEditor::Impl {
  EditLine* el = nullptr;
  History* history = nullptr;
  HistEvent event{};
  std::string prompt;

  static const char* prompt_of(EditLine* el) {
    void* self = nullptr;
    el_get(el, EL_CLIENTDATA, &self);
    return static_cast<Impl*>(self)->prompt.c_str();
  }
};

LineEditor::LineEditor(std::string history_file) : history_file_(std::move(history_file)) {
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) return;
  auto impl = std::make_unique<Impl>();
  impl->el = el_init("baton", stdin, stdout, stderr);
  impl->history = history_init();
  if (!impl->el || !impl->history) {
    if (impl->el) el_end(impl->el);
    if (impl->history) history_end(impl->history);
    return;
  }
  history(impl->history, &impl->event, H_SETSIZE, kHistorySize);
  history(impl->history, &impl->event, H_SETUNIQUE, 1);
  if (!history_file_.empty()) history(impl->history, &impl->event, H_LOAD, history_file_.c_str());
  el_set(impl->el, EL_CLIENTDATA, impl.get());
  el_set(impl->el, EL_PROMPT, &Impl::prompt_of);
  el_set(impl->el, EL_EDITOR, "emacs");
  el_set(impl->el, EL_HIST, history, impl->history);
  el_set(impl->el, EL_BIND, "^R", "em-inc-search-prev", nullptr);
  el_source(impl->el, nullptr);  // the user's ~/.editrc, if any
  impl_ = std::move(impl);
}

LineEditor::~LineEditor() {
  if (!impl_) return;
  if (!history_file_.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(history_file_).parent_path(), ec);
    history(impl_->history, &impl_->event, H_SAVE, history_file_.c_str());
  }
  el_end(impl_->el);
  history_end(impl_->history);
}

ReadResult LineEditor::read(const std::string& prompt, std::string& line) {
  if (!impl_) return read_plain(prompt, line);
  impl_->prompt = prompt;
  int count = 0;
  errno = 0;
  const char* got = el_gets(impl_->el, &count);
  if (got == nullptr) return count < 0 && errno == EINTR ? ReadResult::Interrupted : ReadResult::EndOfInput;
  line.assign(got, static_cast<size_t>(count));
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (!line.empty()) history(impl_->history, &impl_->event, H_ENTER, line.c_str());
  return ReadResult::Line;
}

#else
// Built without libedit (the static aarch64 binary): plain lines, no history.
struct LineEditor::Impl {};

LineEditor::LineEditor(std::string history_file) : history_file_(std::move(history_file)) {}

LineEditor::~LineEditor() = default;

ReadResult LineEditor::read(const std::string& prompt, std::string& line) { return read_plain(prompt, line); }
#endif

std::string default_history_file() {
  namespace fs = std::filesystem;
  if (const char* s = std::getenv("XDG_STATE_HOME"); s && *s) return (fs::path(s) / "baton" / "run_history").string();
  if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".local" / "state" / "baton" / "run_history").string();
  return "";
}

}  // namespace baton::cli
