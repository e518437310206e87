// `baton`: one executable, one subcommand per job (shared/DESIGN.md, tools/).
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <kj/exception.h>
#include <kj/string.h>

#include <exception>
#include <iostream>

#include "partition/plan.h"
#include "transport/user_errors.h"
#include "tools/commands.h"
#include "tools/version.h"
#include "transport/open_files.h"

int main(int argc, char** argv) {
  CLI::App app{"baton: run one large language model across several everyday devices"};
  app.require_subcommand(1);
  app.fallthrough();  // global options (--log-level) may follow the subcommand
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  app.set_version_flag("--version", baton::cli::version_text(), "Print the version, commit, compiler and kernel paths");

  baton::cli::CommandRunner runner;
  baton::cli::register_run(app, runner);
  baton::cli::register_bench(app, runner);
  baton::cli::register_model(app, runner);
  baton::cli::register_plan(app, runner);
  baton::cli::register_node(app, runner);
  baton::cli::register_coordinator(app, runner);
  baton::cli::register_submit(app, runner);
  baton::cli::register_peers(app, runner);
  baton::cli::register_simulate(app, runner);
  baton::cli::register_cache(app, runner);
  baton::cli::register_secret(app, runner);

  CLI11_PARSE(app, argc, argv);
  // Logs go to stderr: stdout carries generated text and --json output.
  spdlog::set_default_logger(spdlog::stderr_color_mt("baton"));
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  // Nodes and coordinators hold one descriptor per connection: allow what the system allows.
  baton::raise_open_file_limit();
  try {
    return runner ? runner() : 1;
  } catch (const baton::NoPlanError& e) {
    std::cerr << "baton: error: " << e.what() << "\n";
    return baton::cli::kExitNoPlan;
  } catch (const kj::Exception& e) {
    // kj's file:line and stack addresses help a developer, not a user: debug level only.
    spdlog::debug("{}", kj::str(e).cStr());
    std::cerr << "baton: error: " << baton::plain_message(e) << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "baton: error: " << e.what() << "\n";
    return 1;
  }
}
