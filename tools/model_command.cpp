// `baton model`: tools for GGUF model files. Each subcommand lives in its own file
// (model_inspect.cpp, ...) and registers itself on this group.
#include <CLI/CLI.hpp>

#include "tools/model_commands.h"

namespace baton::cli {

void register_model(CLI::App& app, CommandRunner& runner) {
  CLI::App* group = app.add_subcommand("model", "Inspect, create, quantise and measure GGUF model files");
  group->require_subcommand(1);
  register_model_inspect(*group, runner);
  register_model_synth(*group, runner);
  register_model_tokenize(*group, runner);
  register_model_quantize(*group, runner);
  register_model_perplexity(*group, runner);
}

}  // namespace baton::cli
