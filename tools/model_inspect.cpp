// `baton model inspect F [--json]`: what a GGUF file holds, without reading tensor data
// (only the header pages of the mapping are touched, so multi-GB files open instantly).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <memory>
#include <string>

#include "model/gguf.h"
#include "model/gguf_summary.h"
#include "tools/model_commands.h"

namespace baton::cli {

namespace {

struct InspectArgs {
  std::string path;
  bool json = false;
  size_t items = 4;
};

int inspect(const InspectArgs& a) {
  // A bad file throws GgufError naming the problem; main prints it as one line and exits 1.
  const GgufFile file = GgufFile::open(a.path);
  GgufSummaryOptions options;
  options.array_items_shown = a.items;
  options.json_array_items = a.items;
  const GgufSummary summary = summarize_gguf(file, options);
  fmt::print("{}", a.json ? render_gguf_summary_json(file, summary, options) : render_gguf_summary_text(summary));
  return 0;
}

}  // namespace

void register_model_inspect(CLI::App& model_group, CommandRunner& runner) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = model_group.add_subcommand("inspect", "Print a GGUF file's metadata, tensors, dtypes and bytes per layer");
  cmd->add_option("file", args->path, "GGUF file to inspect")->required();
  cmd->add_flag("--json", args->json, "Print JSON instead of tables");
  cmd->add_option("--items", args->items, "Array items shown per metadata key")->capture_default_str()->check(CLI::Range(0, 1000000));
  cmd->callback([args, &runner] { runner = [args] { return inspect(*args); }; });
}

}  // namespace baton::cli
