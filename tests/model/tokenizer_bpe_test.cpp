// Byte-level BPE (gpt2 kind): the pre-tokenizers split known sentences as their regexes do
// (worked out by hand below; the matcher was also checked against Python's `regex` module
// on 20000 random strings during development), and BPE merges follow the rank order.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "model/pretokenizer.h"
#include "model/tokenizer.h"

namespace baton {
namespace {

std::vector<std::string> split(std::string_view text, PreTokenizer kind) {
  std::vector<std::string> out;
  for (std::string_view p : pre_tokenize(text, kind)) out.emplace_back(p);
  return out;
}

using Pieces = std::vector<std::string>;

TEST(TokenizerBpePre, Llama3GroupsDigitsByThree) {
  // Hello | ␠world (optional non-letter + letters) | 's (contraction) | ␠ (a lone space
  // before a digit: \s+(?!\S) fails, \s+ takes it) | 123 45 (\p{N}{1,3}) | ␠...!!\n\n
  // (" ?[^\s\p{L}\p{N}]+[\r\n]*") | ␠ (two spaces before x: \s+(?!\S) leaves one) | ␠x
  EXPECT_EQ(split("Hello world's 12345 ...!!\n\n  x", PreTokenizer::Llama3),
            (Pieces{"Hello", " world", "'s", " ", "123", "45", " ...!!\n\n", " ", " x"}));
}

TEST(TokenizerBpePre, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(split("Hello world's 12345 ...!!\n\n  x", PreTokenizer::Qwen2),
            (Pieces{"Hello", " world", "'s", " ", "1", "2", "3", "4", "5", " ...!!\n\n", " ", " x"}));
}

TEST(TokenizerBpePre, Gpt2KeepsSpaceWithNumbersAndSplitsNewlinesDifferently) {
  // " ?\p{N}+" keeps " 12345" whole; punctuation takes no newlines; "\n\n  " before x is
  // one whitespace run that leaves its last space to " x".
  EXPECT_EQ(split("Hello world's 12345 ...!!\n\n  x", PreTokenizer::Gpt2),
            (Pieces{"Hello", " world", "'s", " 12345", " ...!!", "\n\n ", " x"}));
}

TEST(TokenizerBpePre, ContractionsCaseAndUnicodeClasses) {
  // Llama 3 contractions ignore case; GPT-2's do not ('S then joins the letters after ').
  EXPECT_EQ(split("IT'S he'LL", PreTokenizer::Llama3), (Pieces{"IT", "'S", " he", "'LL"}));
  EXPECT_EQ(split("IT'S", PreTokenizer::Gpt2), (Pieces{"IT", "'", "S"}));
  // Non-ASCII letters and numbers: é and 漢 are \p{L}, ٣ (Arabic-Indic 3) and ² are \p{N}.
  EXPECT_EQ(split("caf\xC3\xA9 \xE6\xBC\xA2\xE5\xAD\x97 \xD9\xA3\xC2\xB2", PreTokenizer::Llama3),
            (Pieces{"caf\xC3\xA9", " \xE6\xBC\xA2\xE5\xAD\x97", " ", "\xD9\xA3\xC2\xB2"}));
  // "(the": one non-letter may lead letters in Llama 3; GPT-2 splits it off.
  EXPECT_EQ(split("(the)", PreTokenizer::Llama3), (Pieces{"(the", ")"}));
  EXPECT_EQ(split("(the)", PreTokenizer::Gpt2), (Pieces{"(", "the", ")"}));
  // No-break space (U+00A0) is whitespace; a tab can lead a word in Llama 3.
  EXPECT_EQ(split("a\xC2\xA0\xC2\xA0" "b\tc", PreTokenizer::Llama3), (Pieces{"a", "\xC2\xA0", "\xC2\xA0" "b", "\tc"}));
}

TEST(TokenizerBpePre, StarCoderSplitsEveryDigitBeforeTheRest) {
  using V = std::vector<std::string_view>;
  // The space before a digit is not glued to it; "\s+(?!\S)" sees the digit as text end.
  EXPECT_EQ(pre_tokenize("ab 123  x4", PreTokenizer::StarCoder), (V{"ab", " ", "1", "2", "3", " ", " x", "4"}));
  EXPECT_EQ(pre_tokenize("a  1", PreTokenizer::StarCoder), (V{"a", "  ", "1"}));
}

TEST(TokenizerBpePre, PiecesCoverTheTextExactly) {
  const std::string text = "  lead\r\n\r\n mid\t\t9999 \xFF\xFE bad \xF0\x9F\x98\x80!! trail   ";
  for (PreTokenizer k : {PreTokenizer::Gpt2, PreTokenizer::Llama3, PreTokenizer::Qwen2}) {
    std::string joined;
    for (std::string_view p : pre_tokenize(text, k)) {
      EXPECT_FALSE(p.empty());
      joined += p;
    }
    EXPECT_EQ(joined, text);
  }
}

TEST(TokenizerBpePre, NamesMapToPreTokenizers) {
  EXPECT_EQ(pre_tokenizer_from_name("llama-bpe"), PreTokenizer::Llama3);
  EXPECT_EQ(pre_tokenizer_from_name("qwen2"), PreTokenizer::Qwen2);
  EXPECT_EQ(pre_tokenizer_from_name("default"), PreTokenizer::Gpt2);
  EXPECT_EQ(pre_tokenizer_from_name("gpt2"), PreTokenizer::Gpt2);
  EXPECT_EQ(pre_tokenizer_from_name("mpt"), PreTokenizer::Gpt2);
  EXPECT_EQ(pre_tokenizer_from_name("starcoder"), PreTokenizer::StarCoder);
  EXPECT_EQ(pre_tokenizer_from_name("refact"), PreTokenizer::StarCoder);
  EXPECT_EQ(pre_tokenizer_from_name("falcon"), PreTokenizer::Falcon);
  EXPECT_EQ(pre_tokenizer_from_name("gpt-4o"), PreTokenizer::Gpt4o);
  EXPECT_EQ(pre_tokenizer_from_name("deepseek-v3"), PreTokenizer::DeepSeekV3);
  EXPECT_FALSE(pre_tokenizer_from_name("chameleon").has_value());
}

// GPT-2's byte-to-symbol mapping, written independently of the tokenizer's: printable
// Latin-1 stays, the rest maps to U+0100.. in byte order.
std::string byte_symbol(int b) {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    int next = 256;
    for (int x = 0; x < 256; ++x) {
      const bool keep = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255);
      const int cp = keep ? x : next++;
      std::string s;
      if (cp < 0x80) s += static_cast<char>(cp);
      else s += static_cast<char>(0xC0 | (cp >> 6)), s += static_cast<char>(0x80 | (cp & 0x3F));
      t[static_cast<size_t>(x)] = s;
    }
    return t;
  }();
  return table[static_cast<size_t>(b)];
}

// 256 byte symbols (id = byte), the merge results in rank order, then extra tokens.
Vocabulary bpe_vocab(const std::vector<std::string>& merges, const std::vector<std::string>& extra, std::string pre) {
  Vocabulary v;
  v.kind = TokenizerKind::Gpt2;
  v.pre = std::move(pre);
  v.add_bos = false;
  v.add_space_prefix = false;
  for (int b = 0; b < 256; ++b) v.tokens.push_back(byte_symbol(b));
  for (const std::string& m : merges) {
    const size_t sp = m.find(' ');
    v.tokens.push_back(m.substr(0, sp) + m.substr(sp + 1));
  }
  for (const std::string& e : extra) v.tokens.push_back(e);
  v.types.assign(v.tokens.size(), TokenType::Normal);
  v.merges = merges;
  return v;
}

Pieces token_texts(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  Pieces out;
  for (int32_t id : ids) out.push_back(tok.vocabulary().tokens[static_cast<size_t>(id)]);
  return out;
}

const std::vector<std::string> kMerges = {"h e", "\xC4\xA0 t", "\xC4\xA0t he", "i n", "in g",
                                          "\xC4\xA0 s", "\xC4\xA0s ing", "e r", "t h"};
const std::string G = "\xC4\xA0";  // Ġ, the space symbol

TEST(TokenizerBpe, MergesByRankOnAHandBuiltTable) {
  // "the singer" -> pieces "the", " singer".
  // "the": pairs th(8) he(0) -> he first -> t|he; (t,he) is no merge -> [t, he].
  // "Ġsinger": pairs Ġs(5) in(3) er(7) -> in -> Ġ s in g e r; ing(4) -> Ġ s ing e r;
  // Ġs(5) -> Ġs ing e r; Ġsing(6) -> Ġsing e r; er(7) -> [Ġsing, er].
  const Tokenizer tok(bpe_vocab(kMerges, {G + "singer"}, "gpt2"));
  const auto ids = tok.encode("the singer", false, false);
  EXPECT_EQ(token_texts(tok, ids), (Pieces{"t", "he", G + "sing", "er"}));
  EXPECT_EQ(tok.decode(ids), "the singer");
  EXPECT_EQ(tok.token_bytes(ids[2]), " sing");
}

TEST(TokenizerBpe, Llama3TakesAPieceThatIsATokenWhole) {
  // Llama 3 ignores merges when the whole piece is a token ("Ġsinger" has no merge path).
  const Tokenizer tok(bpe_vocab(kMerges, {G + "singer"}, "llama-bpe"));
  EXPECT_EQ(token_texts(tok, tok.encode("the singer", false, false)), (Pieces{"t", "he", G + "singer"}));
}

TEST(TokenizerBpe, EqualRanksMergeLeftmostFirst) {
  // "aaa" with (a,a): aa@0 before aa@1 -> aa|a. "aaaa" -> aa|aa, then (aa,aa) -> aaaa.
  const Tokenizer tok(bpe_vocab({"a a", "aa aa"}, {}, "gpt2"));
  EXPECT_EQ(token_texts(tok, tok.encode("aaa", false, false)), (Pieces{"aa", "a"}));
  EXPECT_EQ(token_texts(tok, tok.encode("aaaa", false, false)), (Pieces{"aaaa"}));
  EXPECT_EQ(token_texts(tok, tok.encode("aaaaa", false, false)), (Pieces{"aaaa", "a"}));
}

TEST(TokenizerBpe, EveryByteRoundTrips) {
  const Tokenizer tok(bpe_vocab(kMerges, {}, "llama-bpe"));
  // é is C3 A9 -> symbols Ã (U+00C3) and © (U+00A9): two byte tokens, ids = byte values.
  EXPECT_EQ(tok.encode("\xC3\xA9", false, false), (std::vector<int32_t>{0xC3, 0xA9}));
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::vector<std::string> texts = {"", " ", "   x  ", "the\n\nsinger\r\n", all, "\xF0\x9F\x98\x80\xE6\xBC\xA2 \xC3",
                                          "numbers 1234567 and 'quotes' THE'S"};
  for (const std::string& s : texts) EXPECT_EQ(tok.decode(tok.encode(s, false, false)), s);
}

TEST(TokenizerBpe, StreamDecoderJoinsBytesOfOneCharacter) {
  const Tokenizer tok(bpe_vocab(kMerges, {}, "llama-bpe"));
  // "é漢" has no merges: five byte tokens C3 A9 E6 BC A2.
  const auto ids = tok.encode("\xC3\xA9\xE6\xBC\xA2", false, false);
  ASSERT_EQ(ids, (std::vector<int32_t>{0xC3, 0xA9, 0xE6, 0xBC, 0xA2}));
  TokenStreamDecoder d(tok);
  EXPECT_EQ(d.push(ids[0]), "");
  EXPECT_EQ(d.push(ids[1]), "\xC3\xA9");
  EXPECT_EQ(d.push(ids[2]), "");
  EXPECT_EQ(d.push(ids[3]), "");
  EXPECT_EQ(d.push(ids[4]), "\xE6\xBC\xA2");
  EXPECT_EQ(d.push(*tok.find_token(G + "t")), " t");
  EXPECT_EQ(d.flush(), "");
}

TEST(TokenizerBpe, SpecialTokensParsedOrNot) {
  Vocabulary v = bpe_vocab(kMerges, {"<|im_start|>", "<|im_end|>", "<t>", "<t>x"}, "llama-bpe");
  const size_t n = v.tokens.size();
  v.types[n - 4] = v.types[n - 3] = TokenType::Control;
  v.types[n - 2] = v.types[n - 1] = TokenType::UserDefined;
  const Tokenizer tok(std::move(v));
  const int32_t start = *tok.find_token("<|im_start|>"), end = *tok.find_token("<|im_end|>");
  const auto ids = tok.encode("<|im_start|>the<|im_end|>", false, true);
  EXPECT_EQ(ids, (std::vector<int32_t>{start, *tok.find_token("t"), *tok.find_token("he"), end}));
  EXPECT_EQ(tok.decode(ids), "the");  // control tokens are not text
  const auto raw = tok.encode("<|im_start|>the<|im_end|>", false, false);
  EXPECT_EQ(std::count(raw.begin(), raw.end(), start) + std::count(raw.begin(), raw.end(), end), 0);
  EXPECT_EQ(tok.decode(raw), "<|im_start|>the<|im_end|>");
  // Longest special first: "<t>x" wins over "<t>".
  EXPECT_EQ(tok.encode("<t>xy", false, false), (std::vector<int32_t>{*tok.find_token("<t>x"), 'y'}));
  EXPECT_EQ(tok.encode("<t>y", false, false), (std::vector<int32_t>{*tok.find_token("<t>"), 'y'}));
  EXPECT_TRUE(tok.is_end_of_generation(end));
  EXPECT_FALSE(tok.is_end_of_generation(start));
}

}  // namespace
}  // namespace baton
