// libFuzzer harness for LexicalGuard (see README.md). An input is two texts separated by the
// first 0x00 byte (no 0x00: the first half and the second half). Checks: operator() never
// throws, its verdict is symmetric in `accept`, a rejection names a known reason, and a valid
// UTF-8 text is always accepted against itself.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "engram/lexical_guard.hpp"
#include "engram/normalize.hpp"

namespace {

bool known_reason(const engram::GuardVerdict& v) {
  if (v.accept) return v.reason.empty();
  for (std::string_view r : {"number", "negation", "antonym", "entity", "direction", "invalid-utf8"}) {
    if (v.reason == r) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const engram::LexicalGuard guard;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find('\0');
  const std::string_view a = split == std::string_view::npos ? input.substr(0, size / 2) : input.substr(0, split);
  const std::string_view b = split == std::string_view::npos ? input.substr(size / 2) : input.substr(split + 1);
  engram::GuardVerdict ab;
  engram::GuardVerdict ba;
  try {
    ab = guard(a, b);
    ba = guard(b, a);
  } catch (...) {
    std::abort();  // operator() must never throw
  }
  if (ab.accept != ba.accept || !known_reason(ab) || !known_reason(ba)) std::abort();
  if (engram::is_valid_utf8(a) && !guard(a, a).accept) std::abort();
  if (engram::is_valid_utf8(b) && !guard(b, b).accept) std::abort();
  return 0;
}
