#include "tool_common.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "engram/errors.hpp"

namespace engram::tool {

std::optional<std::uint64_t> parse_uint(std::string_view text, std::uint64_t min, std::uint64_t max) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (value < min || value > max) return std::nullopt;
  return value;
}

std::optional<double> parse_double(std::string_view text, double min, double max) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  const char first = text.front();
  if (!(first == '-' || first == '+' || first == '.' || (first >= '0' && first <= '9'))) return std::nullopt;
  const std::string copy(text);
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(value) || value < min || value > max) return std::nullopt;
  return value;
}

namespace {
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text.substr(0, 80)) out += (static_cast<unsigned char>(c) < 0x20 ? '?' : c);
  return out + (text.size() > 80 ? "...'" : "'");
}
}  // namespace

CLI::Option* add_uint_option(CLI::App& command, const std::string& name, std::uint64_t& target,
                             const std::string& description, std::uint64_t min, std::uint64_t max) {
  const std::string range = "an integer in " + std::to_string(min) + ".." + std::to_string(max);
  return command
      .add_option_function<std::string>(
          name,
          [&target, name, min, max, range](const std::string& text) {
            const auto value = parse_uint(text, min, max);
            if (!value) throw CLI::ValidationError(name, quoted(text) + " is not " + range);
            target = *value;
          },
          description)
      ->type_name("N");
}

CLI::Option* add_double_option(CLI::App& command, const std::string& name, double& target,
                               const std::string& description, double min, double max) {
  char range[96];
  std::snprintf(range, sizeof range, "a number in [%g, %g]", min, max);
  return command
      .add_option_function<std::string>(
          name,
          [&target, name, min, max, r = std::string(range)](const std::string& text) {
            const auto value = parse_double(text, min, max);
            if (!value) throw CLI::ValidationError(name, quoted(text) + " is not " + r);
            target = *value;
          },
          description)
      ->type_name("X");
}

CLI::Validator store_uri_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          (void)parse_store_uri(text);
          return {};
        } catch (const InvalidArgument& e) {
          return e.what();
        }
      },
      "STORE", "store URI");
}

void run_guarded(int& exit_code, const std::function<int()>& body) {
  try {
    exit_code = body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engram: %s\n", e.what());
    exit_code = kExitError;
  }
}

AnyStore open_existing(const std::string& uri) {
  AnyStore store = open_store(uri, StoreUriOptions{.must_exist = true});
  store.open_recorded();
  return store;
}

std::string json_string(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace engram::tool
