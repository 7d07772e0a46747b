#pragma once
// The compiled word lists of a LexicalGuard: every built-in and extra word folded like query text
// (case folding + NFKC) and put into hash maps keyed by string_view-compatible strings.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engram/lexical_guard.hpp"
#include "guard_word_lists.hpp"

namespace engram::guard_detail {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;

enum WordFlag : std::uint16_t {
  kNegationCue = 1U << 0,
  kFunctionWord = 1U << 1,
  kGermanMarker = 1U << 2,
  kSoftOne = 1U << 3,
  kFromWord = 1U << 4,
  kConnector = 1U << 5,
  kConnectorNeedsFrom = 1U << 6,
  kPrefixException = 1U << 7,
};

struct WordInfo {
  std::uint16_t flags = 0;
  ConnectorKind connector = ConnectorKind::kTo;
  std::int16_t number = -1;  // spelled cardinal
  std::int8_t month = 0;     // 1..12 for a month name
  std::string unit;          // canonical unit when the word is a unit ("%", "$", "am", ...)
};

struct AntonymRef {
  std::uint32_t pair;
  bool side_b;
};

struct Lexicon {
  LexicalGuardOptions options;
  StringMap<WordInfo> words;                       // folded word -> what it is
  StringMap<std::vector<AntonymRef>> antonyms;     // stem, or "stem stem" for two words
  StringSet bigram_heads;                          // first stems of the two-word antonym terms
  StringSet prefix_exception_stems;                // stems of words a polarity prefix must skip
  StringMap<std::vector<std::uint32_t>> synonyms;  // stem -> the synonym groups it is in
  std::vector<std::string> prefixes;               // polarity prefixes, longest first
  std::size_t pair_count = 0;
};

// Builds the lexicon for `options`. Throws InvalidArgument for an unknown language code, or an
// extra antonym or negation cue that is empty, not UTF-8, or (antonyms) more than two words.
std::shared_ptr<const Lexicon> build_lexicon(LexicalGuardOptions options);

// Case folding + NFKC of a word list entry or token (ASCII: lower case).
void fold_into(std::string_view text, std::string& out);

// The light English stemmer used for antonym and polarity matching: strips -ing, -ed, -es, -s,
// -ies, a final e and a doubled final consonant from ASCII letter words, so that enable, enables,
// enabled and enabling share "enabl". Other words are copied unchanged. Appends to `out`.
void append_stem(std::string_view word, std::string& out);

}  // namespace engram::guard_detail
