// Byte-level BPE as GPT-2 / Llama 3 / Qwen2 use it: a pre-tokenised piece becomes one
// symbol per byte (its bytes_to_unicode character), then the adjacent pair with the lowest
// merge rank is merged (leftmost on ties) until no pair has a merge. Priority queue with
// lazy deletion: O(n log n) per piece.
#include <queue>

#include "model/tokenizer_impl.h"
#include "model/unicode_utf8.h"

namespace baton::detail {

namespace {

struct ByteMap {
  static constexpr char32_t kLimit = 256 + 68;  // every image is below this
  std::array<char32_t, 256> to_unicode{};
  std::array<int16_t, kLimit> to_byte{};
  ByteMap() {
    to_byte.fill(-1);
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
      to_unicode[static_cast<size_t>(b)] = cp;
      to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap map;  // immutable after construction; thread-safe initialisation
  return map;
}

struct Symbol {
  int prev, next;
  int32_t id;  // token of the symbol, -1 for a byte without a token
};

struct Candidate {
  int32_t rank;
  int left, right;
  int32_t left_id, right_id;  // ids when queued, to detect staleness
};

struct LowerPriority {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

char32_t byte_to_unicode(uint8_t byte) { return byte_map().to_unicode[byte]; }

int unicode_to_byte(char32_t cp) { return cp < ByteMap::kLimit ? byte_map().to_byte[cp] : -1; }

std::string bytes_to_token_text(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) unicode::append_utf8(out, byte_to_unicode(static_cast<uint8_t>(c)));
  return out;
}

std::string token_text_to_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const unicode::Utf8Char c = unicode::decode_utf8(text, pos);
    const int b = c.valid ? unicode_to_byte(c.cp) : -1;
    if (b >= 0) out += static_cast<char>(b);
    else out.append(text.substr(pos, c.length));
    pos += c.length;
  }
  return out;
}

void bpe_encode_piece(std::string_view piece, const BpeTables& t, std::vector<int32_t>& out) {
  if (piece.empty()) return;
  if (t.ignore_merges) {
    const auto it = t.ids->find(bytes_to_token_text(piece));
    if (it != t.ids->end()) {
      out.push_back(it->second);
      return;
    }
  }
  std::vector<Symbol> symbols(piece.size());
  for (size_t i = 0; i < piece.size(); ++i) {
    const int index = static_cast<int>(i);
    symbols[i] = {index - 1, i + 1 < piece.size() ? index + 1 : -1, t.byte_tokens[static_cast<uint8_t>(piece[i])]};
  }

  std::priority_queue<Candidate, std::vector<Candidate>, LowerPriority> queue;
  auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const int32_t a = symbols[left].id, b = symbols[right].id;
    if (a < 0 || b < 0) return;
    const auto it = t.merges.find(bpe_pair_key(a, b));
    if (it != t.merges.end()) queue.push({it->second.rank, left, right, a, b});
  };
  for (size_t i = 1; i < symbols.size(); ++i) consider(static_cast<int>(i - 1), static_cast<int>(i));

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.left];
    Symbol& right = symbols[c.right];
    if (left.next != c.right || left.id != c.left_id || right.id != c.right_id) continue;  // stale
    left.id = t.merges.at(bpe_pair_key(c.left_id, c.right_id)).result;
    left.next = right.next;
    right.id = -2;  // merged away
    if (right.next >= 0) symbols[right.next].prev = c.left;
    consider(left.prev, c.left);
    consider(c.left, left.next);
  }

  for (int i = 0; i >= 0; i = symbols[i].next) {
    const int32_t id = symbols[i].id >= 0 ? symbols[i].id : t.unk;
    if (id >= 0) out.push_back(id);
  }
}

}  // namespace baton::detail
