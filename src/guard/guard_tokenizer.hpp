#pragma once
// The tokenizer of LexicalGuard: splits a query (valid UTF-8) into word tokens, keeping the
// punctuation that joins numbers, versions, dates, identifiers, paths and flags, and records
// what only the original text shows (capitals, sentence starts, quotes). Tokens are folded
// (case folding + NFKC) and stemmed into buffers that are reused from call to call.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace engram::guard_detail {

enum TokenFlag : std::uint16_t {
  kCapitalized = 1U << 0,    // first letter upper case in the original
  kAllCaps = 1U << 1,        // two or more letters, all upper case
  kSentenceStart = 1U << 2,  // first token of the text or after . ? ! : or a line break
  kClauseStart = 1U << 3,    // after any punctuation that ends a clause, or a quote
  kQuoted = 1U << 4,         // inside "...", '...', `...`, “...”, «...», „...“
  kHasDigit = 1U << 5,
  kHasLetter = 1U << 6,
  kIdentifier = 1U << 7,  // numpy.mean, snake_case, foo::bar, a/b, useState, c++, user@host
  kOptionFlag = 1U << 8,  // --force, -rf
  kHashToken = 1U << 9,   // #48213, #ff00aa
};

struct Token {
  std::uint32_t text_begin = 0;
  std::uint32_t text_len = 0;
  std::uint32_t stem_begin = 0;
  std::uint32_t stem_len = 0;
  std::uint16_t flags = 0;
};

struct TokenizedText {
  std::string text;   // the folded tokens, back to back
  std::string stems;  // their stems, back to back
  std::vector<Token> tokens;
  std::string scratch;

  std::string_view word(std::size_t i) const noexcept {
    return std::string_view(text).substr(tokens[i].text_begin, tokens[i].text_len);
  }
  std::string_view stem(std::size_t i) const noexcept {
    return std::string_view(stems).substr(tokens[i].stem_begin, tokens[i].stem_len);
  }
  bool has(std::size_t i, TokenFlag flag) const noexcept { return (tokens[i].flags & flag) != 0; }
};

// Tokenizes `original`, which must be valid UTF-8, into `out` (cleared first).
void tokenize(std::string_view original, TokenizedText& out);

}  // namespace engram::guard_detail
