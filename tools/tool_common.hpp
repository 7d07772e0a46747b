#pragma once
// What every engram command shares: exit codes, strict number options (CLI11's own integer
// conversion accepts "-1" for an unsigned option and octal/hex forms, so numbers are taken as
// text and parsed here), the store-URI check, the error guard around a command body, and a
// small JSON writer for --json output.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "engram/detail/json.hpp"
#include "engram/stores/any_store.hpp"

namespace engram::tool {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitMiss = 3;  // a get that missed; a verify that found differences

// Strict parsers: the whole text must be the number (no sign for unsigned, no spaces, no
// suffix, decimal only), within [min, max]. nullopt when not.
std::optional<std::uint64_t> parse_uint(std::string_view text, std::uint64_t min = 0, std::uint64_t max = UINT64_MAX);
std::optional<double> parse_double(std::string_view text, double min, double max);

// Adds an option (or positional, when `name` has no leading '-') whose text must be an
// unsigned number in [min, max]; stores it into `target` and sets `*given` when present.
// A bad text is a CLI11 ValidationError (exit 2) naming the option and the text.
CLI::Option* add_uint_option(CLI::App& command, const std::string& name, std::uint64_t& target,
                             const std::string& description, std::uint64_t min = 0, std::uint64_t max = UINT64_MAX);
CLI::Option* add_double_option(CLI::App& command, const std::string& name, double& target,
                               const std::string& description, double min, double max);

// A CLI11 check that the text parses as a store URI (exit 2 naming the problem otherwise).
CLI::Validator store_uri_check();

// Runs `body`, storing its exit code; an engram::Error or other exception prints
// "engram: <message>" to stderr and stores 1.
void run_guarded(int& exit_code, const std::function<int()>& body);

// Opens a store that must already exist (read-only verbs): never creates anything.
AnyStore open_existing(const std::string& uri);

// Minimal JSON text helpers for --json output and the export format.
using detail::append_json_string;  // quoted and escaped (engram/detail/json.hpp)
std::string json_string(std::string_view text);

// Milliseconds since the epoch, now.
std::int64_t now_ms();

}  // namespace engram::tool
