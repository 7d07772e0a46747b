#pragma once
// Registration of the engram subcommands. Each function adds its subcommands to `app`; a
// subcommand's callback runs the command and stores its exit status in `exit_code` (0 ok,
// 1 error, 2 usage, 3 miss / verify difference). main() registers every group with one line
// each (tools/engram_cli.cpp).

#include <CLI/CLI.hpp>

namespace engram::tool {

// info, stats, inspect, get, put, erase, vacuum, clear, quota, snapshot, restore, maintain.
void add_cache_commands(CLI::App& app, int& exit_code);
// export, import, migrate, verify.
void add_transfer_commands(CLI::App& app, int& exit_code);

}  // namespace engram::tool
