// `baton model tokenize FILE TEXT`: the token ids baton's tokenizer gives TEXT, to compare
// with other tools (llama.cpp's llama-tokenize, tokenizers' encode). `--decode` goes the
// other way: ids in, text out. Only the tokenizer is read, so a vocabulary-only GGUF
// (llama.cpp's ggml-vocab-*.gguf) or a model of an architecture baton does not run works too.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <charconv>
#include <stdexcept>

#include "model/gguf.h"
#include "model/tokenizer.h"
#include "tools/model_commands.h"

namespace baton::cli {

namespace {

struct TokenizeArgs {
  std::string model;
  std::vector<std::string> input;  // the text (words joined by spaces), or ids with --decode
  bool decode = false;
  bool no_bos = false;
  bool special = false;
  bool pieces = false;
};

// Ids as separate arguments or one argument of ids separated by spaces/commas.
std::vector<int32_t> parse_ids(const std::vector<std::string>& args, int32_t vocab_size) {
  std::vector<int32_t> ids;
  for (const std::string& arg : args) {
    size_t i = 0;
    while (i < arg.size()) {
      if (arg[i] == ' ' || arg[i] == ',' || arg[i] == '[' || arg[i] == ']') {
        ++i;
        continue;
      }
      int32_t id = 0;
      const auto [end, ec] = std::from_chars(arg.data() + i, arg.data() + arg.size(), id);
      if (ec != std::errc() || end == arg.data() + i) {
        throw std::invalid_argument(fmt::format("--decode wants token ids (numbers), got '{}'", arg));
      }
      if (id < 0 || id >= vocab_size) {
        throw std::invalid_argument(fmt::format("token id {} is outside the vocabulary (0..{})", id, vocab_size - 1));
      }
      ids.push_back(id);
      i = static_cast<size_t>(end - arg.data());
    }
  }
  return ids;
}

int tokenize(const TokenizeArgs& a) {
  const Tokenizer tok = Tokenizer::from_gguf(GgufFile::open(a.model));
  if (a.decode) {
    fmt::print("{}\n", tok.decode(parse_ids(a.input, tok.vocab_size())));
    return 0;
  }
  std::string text;
  for (size_t i = 0; i < a.input.size(); ++i) text += (i ? " " : "") + a.input[i];
  const std::vector<int32_t> ids = tok.encode(text, tok.add_bos() && !a.no_bos, a.special);
  if (a.pieces) {
    for (int32_t id : ids) fmt::print("{:>8} {:?}\n", id, tok.token_bytes(id));
    return 0;
  }
  fmt::print("{}\n", fmt::join(ids, " "));
  return 0;
}

}  // namespace

void register_model_tokenize(CLI::App& group, CommandRunner& runner) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = group.add_subcommand("tokenize", "Print the token ids of a text (or, with --decode, the text of ids)");
  cmd->add_option("model", a->model, "GGUF model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("text", a->input, "Text to tokenize (or token ids with --decode)")->required();
  cmd->add_flag("--decode", a->decode, "Read token ids and print their text");
  cmd->add_flag("--no-bos", a->no_bos, "Do not add the BOS token even if the model asks for it");
  cmd->add_flag("--special", a->special, "Parse control tokens written in the text (e.g. <|im_start|>)");
  cmd->add_flag("--pieces", a->pieces, "One token per line: id and its bytes");
  cmd->callback([a, &runner] { runner = [a] { return tokenize(*a); }; });
}

}  // namespace baton::cli
