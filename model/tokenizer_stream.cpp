// Streaming detokenisation: tokens may end in the middle of a UTF-8 character (byte
// fallback tokens, byte-level BPE); hold those bytes back until the character is complete.
#include "model/tokenizer.h"
#include "model/unicode_utf8.h"

namespace baton {

std::string TokenStreamDecoder::push(int32_t id) {
  pending_ += tok_->token_bytes(id);
  std::string out;
  const size_t used = unicode::append_sanitized_utf8(out, pending_, false);
  pending_.erase(0, used);
  return out;
}

std::string TokenStreamDecoder::flush() {
  std::string out;
  unicode::append_sanitized_utf8(out, pending_, true);
  pending_.clear();
  return out;
}

}  // namespace baton
