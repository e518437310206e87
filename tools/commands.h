// Each subcommand of `baton` lives in its own file and registers itself on the app.
// The returned callback runs after parsing when that subcommand was chosen; it returns the
// process exit code.
#pragma once

#include <functional>

namespace CLI { class App; }

namespace baton::cli {

using CommandRunner = std::function<int()>;

// Exit status when the input is well formed but no plan fits (baton::NoPlanError), so
// scripts can tell "does not fit" from "bad input" (1).
constexpr int kExitNoPlan = 2;

// Each register_* adds a subcommand to `app` and sets `runner` when it is selected.
void register_run(CLI::App& app, CommandRunner& runner);
void register_bench(CLI::App& app, CommandRunner& runner);
void register_model(CLI::App& app, CommandRunner& runner);
void register_plan(CLI::App& app, CommandRunner& runner);
void register_node(CLI::App& app, CommandRunner& runner);
void register_coordinator(CLI::App& app, CommandRunner& runner);
void register_submit(CLI::App& app, CommandRunner& runner);
void register_peers(CLI::App& app, CommandRunner& runner);
void register_simulate(CLI::App& app, CommandRunner& runner);
void register_cache(CLI::App& app, CommandRunner& runner);
void register_secret(CLI::App& app, CommandRunner& runner);

}  // namespace baton::cli
