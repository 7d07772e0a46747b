#pragma once
// The answer-quality guard hook. Bi-encoder similarity cannot tell a paraphrase from its
// opposite ("enable dark mode" / "disable dark mode" score above many true paraphrases), so
// before serving a semantic candidate the cache asks a guard whether the stored query asks the
// same question as the caller's. CacheOptions::guard holds one; LexicalGuard is the default.

#include <functional>
#include <string>
#include <string_view>

namespace engram {

// A guard's answer. `reason` names the check that rejected (e.g. "negation", "antonym",
// "number", "entity", "direction", or a custom guard's own word); it is empty on accept and
// becomes a label in stats(), the metrics hook and the Prometheus output, so keep it short and
// drawn from a small set.
struct GuardVerdict {
  bool accept = true;
  std::string reason{};
};

// guard(query, matched_query): `query` is the caller's text, `matched_query` the stored query
// of the candidate, both as given to get()/put() (not normalized). Called on every semantic
// candidate that passed the similarity threshold, never on exact hits, possibly from several
// threads at once and under the cache's shared lock: it must be thread-safe and must not call
// back into the cache. An exception it throws is a get() error (a miss when fail_open).
using Guard = std::function<GuardVerdict(std::string_view query, std::string_view matched_query)>;

}  // namespace engram
