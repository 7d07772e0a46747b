// engram: the command-line tool for engram caches in any store (DESIGN section 12,
// docs/operations.md). Stores are named by URI: sqlite:PATH (or a bare path),
// redis://[:password@]host[:port][/db][?prefix=P], dict: (tests). `engram --help` and
// `engram COMMAND --help` describe every command.
//
// Exit status: 0 ok, 1 error, 2 usage (unknown command or option, a bad number or URI),
// 3 a get that missed or a verify that found differences.

#include <CLI/CLI.hpp>
#include <cstdio>

#include "calibrate_command.hpp"
#include "commands.hpp"
#include "tool_common.hpp"

int main(int argc, char** argv) {
  CLI::App app{"engram: inspect, maintain, back up, move, verify and calibrate engram semantic caches", "engram"};
  app.require_subcommand(1);
  app.fallthrough(false);
  int exit_code = engram::tool::kExitOk;
  engram::tool::add_cache_commands(app, exit_code);
  engram::tool::add_transfer_commands(app, exit_code);
  engram::tool::add_calibrate_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? engram::tool::kExitOk : engram::tool::kExitUsage;
  }
  return exit_code;
}
