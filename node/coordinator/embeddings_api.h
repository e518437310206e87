// OpenAI's POST /v1/embeddings as pure functions: what a request asks for (strings or
// token arrays, one or many) and the response's shape (float arrays, or base64 of the
// little-endian float32 bytes, which the official clients ask for by default).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace baton {

class Tokenizer;

// One input: text to tokenise, or token ids as given.
struct EmbeddingInput {
  bool is_ids = false;
  std::string text;
  std::vector<int64_t> ids;
};

struct EmbeddingRequest {
  std::vector<EmbeddingInput> inputs;
  bool base64 = false;  // encoding_format "base64" (else "float")
};

// Inputs one request may carry (each runs as a session; OpenAI allows 2048).
inline constexpr size_t kMaxEmbeddingInputs = 256;

// Throws ApiError (400, or 404 for another model) naming the field at fault. `width` is
// the model's embedding width: a `dimensions` other than it is refused.
EmbeddingRequest parse_embedding_request(const std::string& body, const std::string& model_id, int64_t width);

// Each input's token ids (text with the model's BOS, special tokens read as text).
// Throws ApiError 400 naming input[i] when it is empty, has ids outside the vocabulary
// or does not fit `context`.
std::vector<std::vector<int32_t>> encode_embedding_inputs(const EmbeddingRequest& request, const Tokenizer& tokenizer,
                                                          int64_t context);

// The response body: one "embedding" object per vector, in input order.
nlohmann::json embedding_response(const std::vector<std::vector<float>>& vectors, bool base64,
                                  const std::string& model_id, int64_t prompt_tokens);

// The float32 values' bytes, little-endian, in standard base64 (RFC 4648, padded).
std::string base64_of_floats(std::span<const float> values);

}  // namespace baton
