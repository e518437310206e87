#include "node/coordinator/embeddings_api.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <bit>
#include <cstring>

#include "model/tokenizer.h"
#include "node/coordinator/openai_api.h"

namespace baton {

namespace {

using nlohmann::json;

ApiError bad(const std::string& param, const std::string& message) {
  return ApiError(400, param, "invalid_value", message);
}

std::vector<int64_t> token_array(const json& v, const std::string& param) {
  std::vector<int64_t> ids;
  ids.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number_integer()) {
      throw bad(param, fmt::format("'{}[{}]' must be a token id (an integer), got {}", param, i, v[i].type_name()));
    }
    ids.push_back(v[i].get<int64_t>());
  }
  return ids;
}

EmbeddingInput text_input(const json& v, const std::string& param) {
  EmbeddingInput in;
  in.text = v.get<std::string>();
  if (in.text.empty()) throw bad(param, fmt::format("'{}' is an empty string: there is nothing to embed", param));
  return in;
}

// "input": a string, an array of strings, an array of token ids, or an array of arrays of ids.
std::vector<EmbeddingInput> inputs_of(const json& input) {
  std::vector<EmbeddingInput> out;
  if (input.is_string()) {
    out.push_back(text_input(input, "input"));
    return out;
  }
  if (!input.is_array()) {
    throw bad("input", fmt::format("'input' must be a string, an array of strings or an array of token ids, got {}",
                                   input.type_name()));
  }
  if (input.empty()) throw bad("input", "'input' is an empty array: there is nothing to embed");
  if (input[0].is_number_integer()) {
    EmbeddingInput in;
    in.is_ids = true;
    in.ids = token_array(input, "input");
    out.push_back(std::move(in));
    return out;
  }
  if (input.size() > kMaxEmbeddingInputs) {
    throw bad("input", fmt::format("'input' has {} items; at most {} per request", input.size(), kMaxEmbeddingInputs));
  }
  for (size_t i = 0; i < input.size(); ++i) {
    const std::string param = fmt::format("input[{}]", i);
    if (input[i].is_string()) {
      out.push_back(text_input(input[i], param));
    } else if (input[i].is_array()) {
      EmbeddingInput in;
      in.is_ids = true;
      in.ids = token_array(input[i], param);
      if (in.ids.empty()) throw bad(param, fmt::format("'{}' is an empty array: there is nothing to embed", param));
      out.push_back(std::move(in));
    } else {
      throw bad(param, fmt::format("'{}' must be a string or an array of token ids, got {}", param,
                                   input[i].type_name()));
    }
  }
  return out;
}

}  // namespace

EmbeddingRequest parse_embedding_request(const std::string& text, const std::string& model_id, int64_t width) {
  const json body = parse_request_json(text);
  check_requested_model(body, model_id);
  if (!body.contains("input")) throw bad("input", "'input' is required");
  EmbeddingRequest r;
  r.inputs = inputs_of(body["input"]);
  if (body.contains("encoding_format") && !body["encoding_format"].is_null()) {
    const json& f = body["encoding_format"];
    if (!f.is_string() || (f != "float" && f != "base64")) {
      throw bad("encoding_format", fmt::format("'encoding_format' must be \"float\" or \"base64\", got {}", f.dump()));
    }
    r.base64 = f == "base64";
  }
  if (body.contains("dimensions") && !body["dimensions"].is_null()) {
    const json& d = body["dimensions"];
    if (!d.is_number_integer() || d.get<int64_t>() != width) {
      throw bad("dimensions", fmt::format("this model's embeddings have {} dimensions and cannot be shortened; got {}",
                                          width, d.dump()));
    }
  }
  if (body.contains("user") && !body["user"].is_null() && !body["user"].is_string()) {
    throw bad("user", fmt::format("'user' must be a string, got {}", body["user"].type_name()));
  }
  return r;
}

std::vector<std::vector<int32_t>> encode_embedding_inputs(const EmbeddingRequest& request, const Tokenizer& tokenizer,
                                                          int64_t context) {
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    const EmbeddingInput& in = request.inputs[i];
    const std::string param = request.inputs.size() == 1 ? "input" : fmt::format("input[{}]", i);
    std::vector<int32_t> ids;
    if (in.is_ids) {
      for (size_t j = 0; j < in.ids.size(); ++j) {
        if (in.ids[j] < 0 || in.ids[j] >= tokenizer.vocab_size()) {
          throw bad(param, fmt::format("token id {} at position {} of '{}' is outside [0, {}) (the vocabulary)",
                                       in.ids[j], j, param, tokenizer.vocab_size()));
        }
        ids.push_back(static_cast<int32_t>(in.ids[j]));
      }
    } else {
      ids = tokenizer.encode(in.text, tokenizer.add_bos(), /*parse_special=*/false);
    }
    if (ids.empty()) throw bad(param, fmt::format("'{}' has no tokens: there is nothing to embed", param));
    if (static_cast<int64_t>(ids.size()) > context) {
      throw ApiError(400, param, "context_length_exceeded",
                     fmt::format("'{}' has {} tokens but the context holds {}", param, ids.size(), context));
    }
    out.push_back(std::move(ids));
  }
  return out;
}

std::string base64_of_floats(std::span<const float> values) {
  static_assert(std::endian::native == std::endian::little, "the wire format is little-endian float32");
  std::vector<unsigned char> bytes(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  // EVP_EncodeBlock writes the padded text and a terminating NUL: room for it too.
  std::vector<unsigned char> text(out.size() + 1);
  const int n = EVP_EncodeBlock(text.data(), bytes.data(), static_cast<int>(bytes.size()));
  out.assign(reinterpret_cast<const char*>(text.data()), static_cast<size_t>(n));
  return out;
}

nlohmann::json embedding_response(const std::vector<std::vector<float>>& vectors, bool base64,
                                  const std::string& model_id, int64_t prompt_tokens) {
  json data = json::array();
  for (size_t i = 0; i < vectors.size(); ++i) {
    json vec = base64 ? json(base64_of_floats(vectors[i])) : json(vectors[i]);
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(vec)}});
  }
  return {{"object", "list"},
          {"data", std::move(data)},
          {"model", model_id},
          {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}};
}

}  // namespace baton
