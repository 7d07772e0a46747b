// Compiles the word lists of guard_word_lists.cpp (and the extras of LexicalGuardOptions) into
// the hash maps of a Lexicon; also the folding and stemming shared with the tokenizer.
#include "guard_lexicon.hpp"

#include <algorithm>
#include <utility>

#include "engram/errors.hpp"
#include "engram/normalize.hpp"

namespace engram::guard_detail {
namespace {

bool is_ascii_letters(std::string_view word) noexcept {
  return std::all_of(word.begin(), word.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

bool ends_with(std::string_view word, std::string_view suffix) noexcept {
  return word.size() >= suffix.size() && word.substr(word.size() - suffix.size()) == suffix;
}

bool is_vowel(char c) noexcept { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y'; }

// Splits "a|b|c" into its forms.
std::vector<std::string_view> split_forms(std::string_view forms) {
  std::vector<std::string_view> out;
  while (!forms.empty()) {
    const std::size_t bar = forms.find('|');
    out.push_back(forms.substr(0, bar));
    if (bar == std::string_view::npos) break;
    forms.remove_prefix(bar + 1);
  }
  return out;
}

std::string folded(std::string_view text) {
  std::string out;
  fold_into(text, out);
  return out;
}

class Builder {
 public:
  explicit Builder(Lexicon& lex) : lex_(lex) {}

  WordInfo& word(std::string_view raw) { return lex_.words[folded(raw)]; }

  void add_antonym_side(std::string_view forms, std::uint32_t pair, bool side_b) {
    for (std::string_view form : split_forms(forms)) {
      const std::string text = folded(form);
      if (text.empty()) throw InvalidArgument("LexicalGuard: empty antonym. Remediation: give a word or two.");
      std::string key;
      const std::size_t space = text.find(' ');
      if (space == std::string::npos) {
        append_stem(text, key);
      } else {
        const std::string_view first = std::string_view(text).substr(0, space);
        const std::string_view second = std::string_view(text).substr(space + 1);
        if (second.find(' ') != std::string_view::npos) {
          throw InvalidArgument("LexicalGuard: antonym \"" + std::string(form) +
                                "\" has more than two words. Remediation: use one or two words.");
        }
        append_stem(first, key);
        lex_.bigram_heads.insert(key);
        key.push_back(' ');
        append_stem(second, key);
      }
      auto& refs = lex_.antonyms[key];
      const AntonymRef ref{pair, side_b};
      if (std::none_of(refs.begin(), refs.end(),
                       [&](const AntonymRef& r) { return r.pair == pair && r.side_b == side_b; })) {
        refs.push_back(ref);
      }
    }
  }

  void add_pair(std::string_view a, std::string_view b) {
    const auto pair = static_cast<std::uint32_t>(lex_.pair_count++);
    add_antonym_side(a, pair, false);
    add_antonym_side(b, pair, true);
  }

  void add_language(const LanguageLists& lists) {
    for (const AntonymRow& row : lists.antonyms) add_pair(row.a, row.b);
    for (std::string_view w : lists.negation_cues) word(w).flags |= kNegationCue;
    for (std::string_view w : lists.weak_negation_cues) word(w).flags |= kNegationCue;
    for (const NumberWord& n : lists.numbers) word(n.word).number = n.value;
    for (std::string_view w : lists.soft_ones) word(w).flags |= kSoftOne;
    for (const NumberWord& m : lists.months) word(m.word).month = static_cast<std::int8_t>(m.value);
    for (std::string_view w : lists.function_words) word(w).flags |= kFunctionWord;
    for (std::string_view w : lists.markers) word(w).flags |= kGermanMarker;
    for (std::string_view w : lists.from_words) word(w).flags |= kFromWord | kFunctionWord;
    for (const ConnectorWord& c : lists.connectors) {
      WordInfo& info = word(c.word);
      const bool had = (info.flags & kConnector) != 0;
      info.flags |= kConnector;
      info.connector = c.kind;
      // A word that is directional on its own in one language stays so.
      if (c.needs_from && !had) info.flags |= kConnectorNeedsFrom;
      if (!c.needs_from) info.flags &= static_cast<std::uint16_t>(~kConnectorNeedsFrom);
    }
    for (std::string_view p : lists.polarity_prefixes) {
      std::string prefix = folded(p);
      if (std::find(lex_.prefixes.begin(), lex_.prefixes.end(), prefix) == lex_.prefixes.end()) {
        lex_.prefixes.push_back(std::move(prefix));
      }
    }
    for (std::string_view w : lists.prefix_exceptions) {
      word(w).flags |= kPrefixException;
      std::string stem;
      append_stem(folded(w), stem);
      lex_.prefix_exception_stems.insert(std::move(stem));
    }
  }

 private:
  Lexicon& lex_;
};

void check_extra(std::string_view what, std::string_view text) {
  if (text.empty() || !is_valid_utf8(text)) {
    throw InvalidArgument("LexicalGuard: extra " + std::string(what) +
                          " is empty or not valid UTF-8. Remediation: pass non-empty UTF-8 words.");
  }
}

}  // namespace

void fold_into(std::string_view text, std::string& out) {
  out.clear();
  bool ascii = true;
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    out.reserve(text.size());
    for (const char c : text) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c);
    return;
  }
  normalize_query_into(text, out, NormalizeOptions{.nfkc = true});
  // The typographic apostrophe is the ASCII one for matching (don’t == don't).
  if (out.find("\u2019") == std::string::npos) return;
  std::size_t write = 0;
  for (std::size_t read = 0; read < out.size(); ++write) {
    if (out.compare(read, 3, "\u2019") == 0) {
      out[write] = '\'';
      read += 3;
    } else {
      out[write] = out[read++];
    }
  }
  out.resize(write);
}

void append_stem(std::string_view word, std::string& out) {
  if (!is_ascii_letters(word) || word.size() <= 3) {
    out.append(word);
    return;
  }
  std::string_view w = word;
  bool ies = false;
  if (w.size() > 4 && ends_with(w, "ies")) {
    w.remove_suffix(3);
    ies = true;
  } else {
    const char before_es = w.size() > 4 ? w[w.size() - 3] : '\0';
    std::size_t strip = 0;
    if (w.size() > 5 && ends_with(w, "ing")) {
      strip = 3;
    } else if (w.size() > 4 && (ends_with(w, "ed") || (ends_with(w, "es") && (before_es == 's' || before_es == 'x' ||
                                                                              before_es == 'z' || before_es == 'h')))) {
      strip = 2;
    } else if (w.back() == 's' && !ends_with(w, "ss") && !ends_with(w, "us") && !ends_with(w, "is")) {
      strip = 1;
    }
    w.remove_suffix(strip);
  }
  if (!ies && w.size() > 4 && w.back() == 'e') w.remove_suffix(1);
  if (!ies && w.size() > 4 && w.back() == w[w.size() - 2] && !is_vowel(w.back())) w.remove_suffix(1);
  out.append(w);
  if (ies) out.push_back('y');
}

std::shared_ptr<const Lexicon> build_lexicon(LexicalGuardOptions options) {
  auto lex = std::make_shared<Lexicon>();
  lex->options = std::move(options);
  const LexicalGuardOptions& opts = lex->options;
  Builder builder(*lex);
  for (const std::string& code : opts.languages) {
    const LanguageLists* lists = language_lists(code);
    if (lists == nullptr) {
      throw InvalidArgument("LexicalGuard: unknown language \"" + code +
                            "\". Remediation: use en, de, fr or es in LexicalGuardOptions::languages.");
    }
    builder.add_language(*lists);
  }
  for (const auto& [a, b] : opts.extra_antonyms) {
    check_extra("antonym", a);
    check_extra("antonym", b);
    builder.add_pair(a, b);
  }
  for (const std::string& cue : opts.extra_negation_cues) {
    check_extra("negation cue", cue);
    builder.word(cue).flags |= kNegationCue;
  }
  for (const UnitWord& unit : unit_words()) builder.word(unit.word).unit = std::string(unit.unit);
  std::uint32_t group = 0;
  for (const std::string_view forms : synonym_groups()) {
    for (const std::string_view form : split_forms(forms)) {
      std::string stem;
      append_stem(folded(form), stem);
      lex->synonyms[stem].push_back(group);
    }
    ++group;
  }
  std::sort(lex->prefixes.begin(), lex->prefixes.end(),
            [](const std::string& x, const std::string& y) { return x.size() > y.size(); });
  return lex;
}

}  // namespace engram::guard_detail
