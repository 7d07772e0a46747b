#pragma once
// The answer-quality guard hook: before a semantic hit is served, the cache asks a guard whether
// the stored query (`matched_query`) really asks the same thing as the new one (`query`).
// engram::LexicalGuard (lexical_guard.hpp) is the default implementation.

#include <functional>
#include <string>
#include <string_view>

namespace engram {

// The guard's answer. `reason` is empty when `accept` is true, and otherwise a short stable
// token naming the failed check (LexicalGuard: "number", "negation", "antonym", "entity",
// "direction", "invalid-utf8", "internal-error").
struct GuardVerdict {
  bool accept = true;
  std::string reason;
};

// A guard: (query, matched_query) -> verdict. It must be thread-safe and should not throw.
using Guard = std::function<GuardVerdict(std::string_view query, std::string_view matched_query)>;

}  // namespace engram
