#pragma once
// LexicalGuard: a cheap lexical check that two queries which embed close together do not differ
// in a way bi-encoders are known to gloss over. It is the default CacheOptions::guard.
//
// Contract
//   * operator()(query, matched_query) never throws. Either text that is not valid UTF-8 gives
//     {false, "invalid-utf8"} (the cache validates queries before storing them, so rejecting is
//     safe); any other internal failure gives {false, "internal-error"}.
//   * It is symmetric in `accept` (guard(a, b).accept == guard(b, a).accept) and accepts
//     guard(a, a) for every valid UTF-8 `a`.
//   * Thread-safe; cheap to copy (the compiled word lists are shared, immutable). The lists of a
//     default-constructed guard are built once per process.
//   * Texts are compared after Unicode case folding and NFKC; tokens are runs of letters, marks
//     and digits, keeping `. _ - : / , % $ € £ # ' +` where they join numbers, versions, dates,
//     identifiers, paths, flags and contractions.
//
// The checks, cheapest first; the first failing one names the verdict:
//   "number"    the numbers of the two texts differ as multisets. Numbers are tokens with a digit
//               (3.11, v2.0.1, 2024-05-01, 19:30, 0x1f, ABC-1234, 1st), `#` tokens (#48213,
//               #ff00aa), spelled cardinals two..twelve and zero (and their de/fr/es forms), and
//               a month name next to a number. Units join their number: $20 == 20 usd ==
//               20 dollars, 20% == 20 percent, 7 am == 7am. "one" (un/une/uno/una) is too often
//               a pronoun or article: it only stands in for a "1" on the other side.
//   "negation"  one text is negated and the other is not (presence, not count: "I can't log in"
//               and "login not working" are both negated). Cues: not, no, n't, never, without,
//               ... nicht, kein*, ohne ... ne/n' (only when no pas/jamais/rien/... follows),
//               pas, jamais, sans ... no, nunca, sin ...; also prefix polarity: a word in one
//               text is un-/dis-/de-/in-/im-/il-/ir-/non- (dé-/dés-/des-/ent-) + a word of the
//               other text, and the other text lacks the prefixed word (install/uninstall,
//               activer/désactiver).
//   "antonym"   for a listed antonym pair (X, Y), the count of X goes up and the count of Y
//               goes down from one text to the other (X only on one side and Y only on the
//               other being the usual case). English forms are matched after a light suffix
//               stemmer (enable/enabled/enabling); the lists also hold multiword terms
//               (sign in / sign out).
//   "entity"    every entity of one text must appear as a token in the other. Entities are
//               capitalized words that do not start a sentence (not for German-looking text or
//               title-case text), code identifiers (numpy.mean, useState, snake_case, foo::bar,
//               a/b/c, file.txt, c++), flags (--force, -rf) and the words of quoted strings.
//   "direction" both texts hold the same two words on opposite sides of a directional word
//               (to, into, than, from X to Y; von X nach/zu Y; de X à/en Y; de X a Y; als, que),
//               in swapped order: "celsius to fahrenheit" vs "fahrenheit to celsius". "X vs Y",
//               "X and Y", "between X and Y" are symmetric and never reject.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engram/guard.hpp"

namespace engram {

namespace guard_detail {
struct Lexicon;
}

struct LexicalGuardOptions {
  bool numbers = true;                                                // reason "number"
  bool negation = true;                                               // reason "negation"
  bool antonyms = true;                                               // reason "antonym"
  bool entities = true;                                               // reason "entity"
  bool direction = true;                                              // reason "direction"
  std::vector<std::pair<std::string, std::string>> extra_antonyms{};  // one word or several each
  std::vector<std::string> extra_negation_cues{};                     // single words
  std::vector<std::string> languages{"en", "de", "fr", "es"};         // word lists to load
};

class LexicalGuard {
 public:
  // Throws InvalidArgument for a language code other than en, de, fr, es, or an empty extra
  // antonym or negation cue, or one that is not valid UTF-8.
  explicit LexicalGuard(LexicalGuardOptions options = {});
  // Copies share the word lists. A "moved-from" guard is a copy: a guard is never empty.
  LexicalGuard(const LexicalGuard&) = default;
  LexicalGuard& operator=(const LexicalGuard&) = default;
  ~LexicalGuard() = default;

  // Never throws (see the contract above).
  GuardVerdict operator()(std::string_view query, std::string_view matched_query) const;

  const LexicalGuardOptions& options() const noexcept;

  // The number of built-in antonym pairs for a language code (0 for an unknown code).
  static std::size_t antonym_pair_count(std::string_view language) noexcept;

 private:
  std::shared_ptr<const guard_detail::Lexicon> lexicon_;  // word lists and options, immutable
};

}  // namespace engram
