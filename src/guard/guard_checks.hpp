#pragma once
// The five checks of LexicalGuard on two analysed texts. analyze() derives, from the tokens, what
// the checks compare; each check returns true when the pair passes.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "guard_lexicon.hpp"
#include "guard_tokenizer.hpp"

namespace engram::guard_detail {

struct Connector {
  std::uint32_t left_begin;  // content candidates: [left_begin, at) and (at, right_end)
  std::uint32_t at;
  std::uint32_t right_end;
  ConnectorKind kind;
};

struct Analysis {
  TokenizedText tok;
  std::vector<const WordInfo*> info;                             // per token; nullptr when the word is in no list
  std::string number_text;                                       // canonical numbers, back to back
  std::vector<std::pair<std::uint32_t, std::uint32_t>> numbers;  // (offset, length) into number_text
  std::uint32_t soft_ones = 0;
  bool negated = false;
  std::vector<AntonymRef> antonyms;
  std::vector<std::uint32_t> entities;  // token indices
  std::vector<Connector> connectors;
  std::string key;  // scratch

  std::string_view number(std::size_t i) const noexcept {
    return std::string_view(number_text).substr(numbers[i].first, numbers[i].second);
  }
};

// Tokenizes `text` (valid UTF-8) and derives the features.
void analyze(std::string_view text, const Lexicon& lex, Analysis& out);

bool numbers_match(Analysis& a, Analysis& b);
bool negation_matches(const Analysis& a, const Analysis& b, const Lexicon& lex, std::string& scratch);
bool antonyms_match(const Analysis& a, const Analysis& b);
bool entities_match(const Analysis& a, const Analysis& b);
// True when the two texts are the same sentence but for one content word in one place, and the
// two words are not known to mean the same ("reset my password" / "reset my router"): reported
// as "entity".
bool one_word_swapped(const Analysis& a, const Analysis& b, const Lexicon& lex);
bool direction_matches(const Analysis& a, const Analysis& b);

}  // namespace engram::guard_detail
