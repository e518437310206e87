// `baton secret new`: prints a strong random cluster secret, for BATON_SECRET or --secret
// on every device of one cluster.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "tools/commands.h"
#include "transport/auth.h"

namespace baton::cli {

void register_secret(CLI::App& app, CommandRunner& runner) {
  auto* cmd = app.add_subcommand("secret", "Cluster secrets");
  cmd->require_subcommand(1);
  auto* make = cmd->add_subcommand(
      "new", "Print a new random cluster secret (192 bits). Use the same one on every device of the cluster, e.g.\n"
             "  export BATON_SECRET=$(baton secret new)");
  make->callback([&runner] {
    runner = [] {
      fmt::print("{}\n", new_cluster_secret());
      return 0;
    };
  });
}

}  // namespace baton::cli
