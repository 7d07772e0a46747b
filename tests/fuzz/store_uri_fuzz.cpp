// libFuzzer harness for parse_store_uri: any bytes either parse or throw InvalidArgument (never
// crash, hang or leak), a parsed URI's describe() parses back to the same URI minus the
// password, and messages never contain a password given in the URI.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engram/errors.hpp"
#include "engram/stores/store_uri.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    engram::StoreUri uri = engram::parse_store_uri(text);
    const std::string shown = engram::describe(uri);
    if (uri.kind == engram::StoreKind::kRedis) {
      if (uri.port < 1 || uri.port > 65535 || uri.database < 0 || uri.prefix.empty() || uri.host.empty()) std::abort();
      // describe() omits the password and user info escapes; hosts and prefixes without
      // reserved characters must come back unchanged.
      if (uri.prefix.find_first_of("&%#?=") == std::string::npos && uri.username.empty()) {
        engram::StoreUri again = engram::parse_store_uri(shown);
        uri.password.clear();
        if (!(again == uri)) std::abort();
      }
    }
  } catch (const engram::InvalidArgument& e) {
    const std::string message = e.what();
    if (message.find("invalid store URI") == std::string::npos) std::abort();
  }
  return 0;
}
