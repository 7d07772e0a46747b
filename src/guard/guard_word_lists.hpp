#pragma once
// The built-in word lists of LexicalGuard, per language (guard_word_lists.cpp). Plain tables;
// guard_lexicon.cpp folds and compiles them.

#include <cstdint>
#include <span>
#include <string_view>

namespace engram::guard_detail {

// An antonym pair. Each side lists its forms separated by '|'; a form may be several words
// ("sign in"). English forms also go through the light stemmer, so listing the base form is
// usually enough.
struct AntonymRow {
  std::string_view a;
  std::string_view b;
};

struct NumberWord {
  std::string_view word;
  std::uint8_t value;  // a cardinal, or a month 1..12
};

enum class ConnectorKind : std::uint8_t { kTo, kThan };

struct ConnectorWord {
  std::string_view word;
  ConnectorKind kind;
  bool needs_from;  // only directional after a "from" word in the same clause (es "de X a Y")
};

struct LanguageLists {
  std::span<const AntonymRow> antonyms;
  std::span<const std::string_view> negation_cues;       // one is enough to negate a text
  std::span<const std::string_view> weak_negation_cues;  // count only without a strong cue (fr ne)
  std::span<const NumberWord> numbers;                   // spelled cardinals
  std::span<const std::string_view> soft_ones;           // "one": a number only against a "1"
  std::span<const NumberWord> months;
  std::span<const std::string_view> function_words;  // never entities, not direction content
  std::span<const std::string_view> markers;         // words that mark German text (capitalized nouns)
  std::span<const ConnectorWord> connectors;
  std::span<const std::string_view> from_words;
  std::span<const std::string_view> polarity_prefixes;
  std::span<const std::string_view> prefix_exceptions;  // prefixed words that are not negations
};

// The lists of a language code ("en", "de", "fr", "es"), or nullptr.
const LanguageLists* language_lists(std::string_view code) noexcept;

// Words after a number that give it a unit: {"percent", "%"}, {"usd", "$"}, {"am", "am"}, ...
struct UnitWord {
  std::string_view word;
  std::string_view unit;
};
std::span<const UnitWord> unit_words() noexcept;

// Groups of words that ask the same thing, '|'-separated ("delete|remove|erase"): a question
// that differs from another only by one word is a different question ("reset my password" /
// "reset my router") unless the two words are in one group. English forms go through the
// stemmer; the other languages list their forms.
std::span<const std::string_view> synonym_groups() noexcept;

}  // namespace engram::guard_detail
