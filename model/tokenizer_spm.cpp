// SentencePiece-style BPE, as llama.cpp's llm_tokenizer_spm: start from single characters
// and repeatedly merge the adjacent pair whose concatenation is the highest-scoring token
// (leftmost on ties). A priority queue of candidate pairs makes it O(n log n); entries made
// stale by earlier merges are skipped when popped.
#include <queue>

#include "model/tokenizer_impl.h"
#include "model/unicode_utf8.h"

namespace baton::detail {

namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

struct Symbol {
  int prev, next;
  size_t offset, length;  // bytes of text; length 0 once merged into the left neighbour
};

struct Candidate {
  float score;
  int left, right;
  size_t length;  // combined length when queued, to detect staleness
};

struct LowerPriority {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

std::string spm_escape_spaces(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (char c : text) {
    if (c == ' ') out += kSpaceMark;
    else out += c;
  }
  return out;
}

std::string spm_unescape_spaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    if (text.substr(pos, kSpaceMark.size()) == kSpaceMark) {
      out += ' ';
      pos += kSpaceMark.size();
    } else {
      out += text[pos++];
    }
  }
  return out;
}

int spm_byte_token_value(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(text[3]), lo = hex(text[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

void spm_encode(std::string_view text, const SpmTables& t, std::vector<int32_t>& out) {
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    // Ill-formed bytes become their own symbols and later byte tokens, so nothing is lost.
    const size_t len = unicode::decode_utf8(text, pos).length;
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, pos + len < text.size() ? index + 1 : -1, pos, len});
    pos += len;
  }
  if (symbols.empty()) return;

  auto token_of = [&](size_t offset, size_t length) -> int32_t {
    const auto it = t.ids->find(text.substr(offset, length));
    if (it == t.ids->end() || !(*t.normal)[static_cast<size_t>(it->second)]) return -1;
    return it->second;
  };

  std::priority_queue<Candidate, std::vector<Candidate>, LowerPriority> queue;
  auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t length = symbols[left].length + symbols[right].length;
    const int32_t id = token_of(symbols[left].offset, length);
    if (id >= 0) queue.push({(*t.scores)[static_cast<size_t>(id)], left, right, length});
  };
  for (size_t i = 1; i < symbols.size(); ++i) consider(static_cast<int>(i - 1), static_cast<int>(i));

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.left];
    Symbol& right = symbols[c.right];
    if (left.length == 0 || right.length == 0 || left.next != c.right || left.length + right.length != c.length) {
      continue;  // one side changed since this pair was queued
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    consider(left.prev, c.left);
    consider(c.left, left.next);
  }

  for (int i = 0; i >= 0; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    const int32_t id = token_of(s.offset, s.length);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Byte fallback: each byte of the unknown character as its <0xXX> token; one unk for
    // the character when some byte has no token (SentencePiece without byte_fallback).
    bool all_bytes = true;
    for (size_t k = 0; k < s.length; ++k) all_bytes &= t.byte_tokens[static_cast<unsigned char>(text[s.offset + k])] >= 0;
    if (!all_bytes) {
      out.push_back(t.unk);
      continue;
    }
    for (size_t k = 0; k < s.length; ++k) out.push_back(t.byte_tokens[static_cast<unsigned char>(text[s.offset + k])]);
  }
}

}  // namespace baton::detail
