// The subcommands of `baton model`, one file each. register_model (model_command.cpp)
// creates the group and calls these.
#pragma once

#include "tools/commands.h"

namespace baton::cli {

// `baton model inspect F [--json]`: header, metadata, tensor table, bytes per layer.
void register_model_inspect(CLI::App& model_group, CommandRunner& runner);
// `baton model synth --out F ...`: writes a deterministic synthetic model.
void register_model_synth(CLI::App& model_group, CommandRunner& runner);
// `baton model tokenize F TEXT [--decode]`: token ids of a text, or the text of ids.
void register_model_tokenize(CLI::App& model_group, CommandRunner& runner);
// `baton model quantize IN OUT --type T [--mixed]`: the model with its weights in another type.
void register_model_quantize(CLI::App& model_group, CommandRunner& runner);
// `baton model perplexity F --text T`: perplexity over non-overlapping windows of a text.
void register_model_perplexity(CLI::App& model_group, CommandRunner& runner);

}  // namespace baton::cli
