// Matched pair for the sampling that travels with a frame: the coordinator writes a
// SamplingRequest into Frame.sampling, the last stage reads it back (bounded, validated)
// and answers with SampledTokens in Logits.sampled.
#pragma once

#include "model/sampling_request.h"
#include "transport/baton.capnp.h"

namespace baton {

void write_sampling(const SamplingRequest& request, rpc::Sampling::Builder out);
// Throws std::invalid_argument naming the field when the request is out of range for a
// model with `vocab_size` tokens (the list lengths are checked before anything is copied).
SamplingRequest read_sampling(rpc::Sampling::Reader in, int vocab_size);

void write_sampled(const SampledToken& token, rpc::SampledToken::Builder out);
// Throws std::invalid_argument when an id is outside the vocabulary or the lists are
// longer than any answer can be.
SampledToken read_sampled(rpc::SampledToken::Reader in, int vocab_size);

}  // namespace baton
