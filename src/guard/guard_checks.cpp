// LexicalGuard's features and checks (see guard_checks.hpp and the contract in lexical_guard.hpp).
#include "guard_checks.hpp"

#include <algorithm>
#include <array>

namespace engram::guard_detail {
namespace {

constexpr std::array<std::string_view, 4> kCurrencySymbols = {"$", "\u20ac", "\u00a3", "\u00a5"};

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_letter(char c) noexcept { return c >= 'a' && c <= 'z'; }

bool has_flag(const WordInfo* info, std::uint16_t flag) noexcept {
  return info != nullptr && (info->flags & flag) != 0;
}

std::string_view unit_of(const Lexicon& lex, std::string_view word) {
  const auto it = lex.words.find(word);
  return it == lex.words.end() ? std::string_view() : std::string_view(it->second.unit);
}

// Appends the canonical form of a token with a digit (or a # token): units split off and put
// last ($20 -> 20$, 7am -> 7am, 20% -> 20%), "v" of versions dropped, thousands commas dropped,
// decimal commas made points, ":00" of whole hours dropped. Returns whether `next_unit` was used.
bool append_number(std::string_view w, std::string_view next_unit, const Lexicon& lex, std::string& out) {
  if (w.front() == '#') {
    out.append(w);
    return false;
  }
  std::string_view unit;
  for (std::string_view symbol : kCurrencySymbols) {
    if (w.size() > symbol.size() && w.substr(0, symbol.size()) == symbol) {
      unit = symbol;
      w.remove_prefix(symbol.size());
    } else if (w.size() > symbol.size() && w.substr(w.size() - symbol.size()) == symbol) {
      unit = symbol;
      w.remove_suffix(symbol.size());
    }
  }
  if (w.size() > 1 && w.back() == '%') {
    unit = "%";
    w.remove_suffix(1);
  }
  if (w.size() > 1 && w.front() == 'v' && is_digit(w[1])) w.remove_prefix(1);
  if (unit.empty()) {
    std::size_t last_digit = w.size();
    while (last_digit > 0 && !is_digit(w[last_digit - 1])) --last_digit;
    if (last_digit > 0 && last_digit < w.size()) {
      const std::string_view suffix = w.substr(last_digit);
      const bool letters = std::all_of(suffix.begin(), suffix.end(), is_letter);
      const std::string_view attached = letters ? unit_of(lex, suffix) : std::string_view();
      if (!attached.empty()) {
        unit = attached;
        w = w.substr(0, last_digit);
      }
    }
  }
  bool used_next = false;
  if (unit.empty() && !next_unit.empty()) {
    unit = next_unit;
    used_next = true;
  }
  const std::size_t start = out.size();
  std::size_t colons = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const char c = w[i];
    if (c == ',' && i > 0 && is_digit(w[i - 1])) {
      std::size_t run = 0;
      while (i + 1 + run < w.size() && is_digit(w[i + 1 + run])) ++run;
      const bool thousands = run == 3 && (i + 4 == w.size() || w[i + 4] == ',');
      if (!thousands) out.push_back('.');
      continue;
    }
    if (c == ':') ++colons;
    out.push_back(c);
  }
  if (colons == 1 && out.size() - start > 3 && std::string_view(out).substr(out.size() - 3) == ":00")
    out.resize(out.size() - 3);
  out.append(unit);
  return used_next;
}

void extract_numbers(const Lexicon& lex, Analysis& out) {
  const TokenizedText& tok = out.tok;
  const std::size_t n = tok.tokens.size();
  out.number_text.clear();
  out.numbers.clear();
  out.soft_ones = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const WordInfo* info = out.info[i];
    const WordInfo* next = i + 1 < n ? out.info[i + 1] : nullptr;
    const std::string_view next_unit = next != nullptr ? std::string_view(next->unit) : std::string_view();
    const auto start = static_cast<std::uint32_t>(out.number_text.size());
    bool used_next = false;
    if (tok.has(i, kHasDigit) || tok.has(i, kHashToken)) {
      used_next = append_number(tok.word(i), next_unit, lex, out.number_text);
    } else if (info != nullptr && info->number >= 0) {
      out.number_text.append(std::to_string(info->number));
      out.number_text.append(next_unit);
      used_next = !next_unit.empty();
    } else if (has_flag(info, kSoftOne)) {
      ++out.soft_ones;
      continue;
    } else if (info != nullptr && info->month > 0 &&
               ((i > 0 && tok.has(i - 1, kHasDigit)) || (i + 1 < n && tok.has(i + 1, kHasDigit)))) {
      out.number_text.push_back('m');
      out.number_text.append(std::to_string(info->month));
    } else {
      continue;
    }
    out.numbers.emplace_back(start, static_cast<std::uint32_t>(out.number_text.size()) - start);
    if (used_next) ++i;
  }
}

void extract_antonyms(const Lexicon& lex, Analysis& out) {
  const TokenizedText& tok = out.tok;
  const std::size_t n = tok.tokens.size();
  out.antonyms.clear();
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view stem = tok.stem(i);
    if (const auto it = lex.antonyms.find(stem); it != lex.antonyms.end()) {
      out.antonyms.insert(out.antonyms.end(), it->second.begin(), it->second.end());
    }
    if (i + 1 < n && !tok.has(i + 1, kClauseStart) && lex.bigram_heads.find(stem) != lex.bigram_heads.end()) {
      out.key.assign(stem);
      out.key.push_back(' ');
      out.key.append(tok.stem(i + 1));
      if (const auto it = lex.antonyms.find(out.key); it != lex.antonyms.end()) {
        out.antonyms.insert(out.antonyms.end(), it->second.begin(), it->second.end());
      }
    }
  }
}

void extract_entities(Analysis& out) {
  const TokenizedText& tok = out.tok;
  const std::size_t n = tok.tokens.size();
  out.entities.clear();
  bool german = false;
  std::size_t words = 0;
  std::size_t capitalized = 0;
  std::size_t long_words = 0;
  std::size_t all_caps = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (has_flag(out.info[i], kGermanMarker)) german = true;
    if (!tok.has(i, kHasLetter) || tok.word(i) == "i") continue;
    if (tok.word(i).size() >= 2) {
      ++long_words;
      if (tok.has(i, kAllCaps)) ++all_caps;
    }
    if (tok.has(i, kSentenceStart)) continue;
    ++words;
    if (tok.has(i, kCapitalized)) ++capitalized;
  }
  const bool title_case = words >= 2 && capitalized * 2 > words;
  const bool shouting = long_words >= 2 && all_caps == long_words;
  const bool capitals_mark_names = !german && !title_case && !shouting;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint16_t flags = tok.tokens[i].flags;
    if ((flags & (kHasDigit | kHashToken)) != 0 || (flags & kHasLetter) == 0) continue;
    bool entity = (flags & (kQuoted | kIdentifier | kOptionFlag)) != 0;
    if (!entity && capitals_mark_names && (flags & kCapitalized) != 0 && (flags & kSentenceStart) == 0) {
      const std::string_view word = tok.word(i);
      entity = !has_flag(out.info[i], kFunctionWord) && word != "i" && word.substr(0, 2) != "i'";
    }
    if (entity) out.entities.push_back(static_cast<std::uint32_t>(i));
  }
}

void extract_connectors(Analysis& out) {
  const TokenizedText& tok = out.tok;
  const std::size_t n = tok.tokens.size();
  out.connectors.clear();
  std::uint32_t begin = 0;  // of the current stretch: clause start or after the last connector
  bool from_seen = false;
  for (std::size_t i = 0; i < n; ++i) {
    const auto idx = static_cast<std::uint32_t>(i);
    if (tok.has(i, kClauseStart)) {
      if (!out.connectors.empty() && out.connectors.back().right_end == 0) out.connectors.back().right_end = idx;
      begin = idx;
      from_seen = false;
    }
    const WordInfo* info = out.info[i];
    if (has_flag(info, kFromWord)) from_seen = true;
    if (!has_flag(info, kConnector) || (has_flag(info, kConnectorNeedsFrom) && !from_seen)) continue;
    if (!out.connectors.empty() && out.connectors.back().right_end == 0) out.connectors.back().right_end = idx;
    out.connectors.push_back(Connector{begin, idx, 0, info->connector});
    begin = idx + 1;
  }
  if (!out.connectors.empty() && out.connectors.back().right_end == 0) {
    out.connectors.back().right_end = static_cast<std::uint32_t>(n);
  }
}

bool is_content(const Analysis& x, std::size_t i) {
  if (x.tok.has(i, kAllCaps)) return true;  // "the US" is a place, "us" a pronoun
  if (has_flag(x.info[i], kFunctionWord | kConnector | kFromWord)) return false;
  return x.tok.has(i, kHasLetter) || x.tok.has(i, kHasDigit);
}

bool stem_in(const Analysis& x, std::uint32_t begin, std::uint32_t end, std::string_view stem) {
  for (std::uint32_t i = begin; i < end; ++i) {
    if (is_content(x, i) && x.tok.stem(i) == stem) return true;
  }
  return false;
}

// True when a connector of `x` of this kind has `first` on its left and `second` on its right.
bool has_order(const Analysis& x, std::string_view first, std::string_view second, ConnectorKind kind) {
  for (const Connector& c : x.connectors) {
    if (c.kind == kind && stem_in(x, c.left_begin, c.at, first) && stem_in(x, c.at + 1, c.right_end, second)) {
      return true;
    }
  }
  return false;
}

bool has_token(const Analysis& x, std::string_view word) {
  for (std::size_t i = 0; i < x.tok.tokens.size(); ++i) {
    if (x.tok.word(i) == word) return true;
  }
  return false;
}

bool has_stem(const Analysis& x, std::string_view stem) {
  for (std::size_t i = 0; i < x.tok.tokens.size(); ++i) {
    if (x.tok.stem(i) == stem) return true;
  }
  return false;
}

// True when a word of `x` is a polarity prefix + a word that `y` has and `x` lacks.
bool prefix_flip(const Analysis& x, const Analysis& y, const Lexicon& lex, std::string& scratch) {
  for (std::size_t i = 0; i < x.tok.tokens.size(); ++i) {
    const std::uint16_t flags = x.tok.tokens[i].flags;
    if ((flags & kHasLetter) == 0 || (flags & (kHasDigit | kIdentifier | kOptionFlag | kHashToken)) != 0) continue;
    if (has_flag(x.info[i], kPrefixException)) continue;
    if (lex.prefix_exception_stems.find(x.tok.stem(i)) != lex.prefix_exception_stems.end()) continue;
    const std::string_view word = x.tok.word(i);
    for (const std::string& prefix : lex.prefixes) {
      const std::size_t min_rest = (prefix.size() >= 3 || prefix == "un") ? 3 : 4;
      if (word.size() < prefix.size() + min_rest || word.substr(0, prefix.size()) != prefix) continue;
      const std::string_view rest = word.substr(prefix.size());
      scratch.clear();
      append_stem(rest, scratch);
      if ((has_stem(y, scratch) || has_token(y, rest)) && !has_stem(x, scratch) && !has_token(x, rest)) return true;
    }
  }
  return false;
}

struct Tally {
  std::uint32_t pair;
  int a_minus_b_side_a;
  int a_minus_b_side_b;
};

}  // namespace

void analyze(std::string_view text, const Lexicon& lex, Analysis& out) {
  tokenize(text, out.tok);
  const std::size_t n = out.tok.tokens.size();
  out.info.assign(n, nullptr);
  out.negated = false;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view word = out.tok.word(i);
    if (const auto it = lex.words.find(word); it != lex.words.end()) out.info[i] = &it->second;
    if (has_flag(out.info[i], kNegationCue)) out.negated = true;
    if (word.size() > 3 && word.substr(word.size() - 3) == "n't") out.negated = true;
    if (word.size() > 5 && word.ends_with("-free")) out.negated = true;  // "sugar-free" = "without sugar"
  }
  extract_numbers(lex, out);
  extract_antonyms(lex, out);
  extract_entities(out);
  extract_connectors(out);
}

bool numbers_match(Analysis& a, Analysis& b) {
  const auto sort_numbers = [](Analysis& x) {
    std::sort(x.numbers.begin(), x.numbers.end(), [&x](const auto& l, const auto& r) {
      return std::string_view(x.number_text).substr(l.first, l.second) <
             std::string_view(x.number_text).substr(r.first, r.second);
    });
  };
  sort_numbers(a);
  sort_numbers(b);
  // Merge the sorted lists; what is left over on one side may only be 1s matched by a spelled
  // "one" on the other.
  std::size_t i = 0;
  std::size_t j = 0;
  std::uint32_t ones_a = 0;
  std::uint32_t ones_b = 0;
  while (i < a.numbers.size() || j < b.numbers.size()) {
    if (i < a.numbers.size() && j < b.numbers.size() && a.number(i) == b.number(j)) {
      ++i;
      ++j;
      continue;
    }
    const bool take_a = j == b.numbers.size() || (i < a.numbers.size() && a.number(i) < b.number(j));
    const std::string_view extra = take_a ? a.number(i) : b.number(j);
    if (extra != "1") return false;
    if (take_a) {
      ++ones_a;
      ++i;
    } else {
      ++ones_b;
      ++j;
    }
  }
  return ones_a <= b.soft_ones && ones_b <= a.soft_ones;
}

bool negation_matches(const Analysis& a, const Analysis& b, const Lexicon& lex, std::string& scratch) {
  if (a.negated != b.negated) return false;
  return !prefix_flip(a, b, lex, scratch) && !prefix_flip(b, a, lex, scratch);
}

bool antonyms_match(const Analysis& a, const Analysis& b) {
  // With terms on one side only, no pair can go up on one term and down on the other.
  if (a.antonyms.empty() || b.antonyms.empty()) return true;
  thread_local std::vector<Tally> tallies;
  tallies.clear();
  const auto add = [](const AntonymRef& ref, int delta) {
    auto it = std::find_if(tallies.begin(), tallies.end(), [&](const Tally& t) { return t.pair == ref.pair; });
    if (it == tallies.end()) {
      tallies.push_back(Tally{ref.pair, 0, 0});
      it = tallies.end() - 1;
    }
    (ref.side_b ? it->a_minus_b_side_b : it->a_minus_b_side_a) += delta;
  };
  for (const AntonymRef& ref : a.antonyms) add(ref, 1);
  for (const AntonymRef& ref : b.antonyms) add(ref, -1);
  return std::none_of(tallies.begin(), tallies.end(), [](const Tally& t) {
    return (t.a_minus_b_side_a > 0 && t.a_minus_b_side_b < 0) || (t.a_minus_b_side_a < 0 && t.a_minus_b_side_b > 0);
  });
}

namespace {

// An entity's form for matching: its stem without a possessive ending, so that "Sundays",
// "Sunday" and "Australia's" / "Australia" match.
std::string_view entity_form(std::string_view stem) {
  for (const std::string_view ending :
       {std::string_view("'s"), std::string_view("\u2019s"), std::string_view("'"), std::string_view("\u2019")}) {
    if (stem.size() > ending.size() && stem.ends_with(ending)) return stem.substr(0, stem.size() - ending.size());
  }
  return stem;
}

// Short and long names of one thing, folded: "JS" asks about JavaScript.
std::string_view canonical_entity(std::string_view form) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 19> kAliases = {{
      {"js", "javascript"},  {"ts", "typescript"}, {"postgres", "postgresql"}, {"psql", "postgresql"},
      {"k8s", "kubernetes"}, {"mac", "macos"},     {"osx", "macos"},           {"usa", "us"},
      {"america", "us"},     {"american", "us"},   {"nodejs", "node"},         {"node.js", "node"},
      {"wi-fi", "wifi"},     {"golang", "go"},     {"py", "python"},           {"vscode", "vs code"},
      {"uk", "britain"},     {"gb", "britain"},    {"mongo", "mongodb"},
  }};
  for (const auto& [alias, name] : kAliases) {
    if (form == alias) return name;
  }
  return form;
}

// True when token `i` of `x` names the same thing as some token of `y`: the same stem
// ("Sundays" / "Sunday"), or the same word without a possessive, up to aliases ("Postgres" /
// "PostgreSQL", "Go's" / "Go").
bool has_entity(const Analysis& x, std::size_t i, const Analysis& y) {
  const std::string_view stem = x.tok.stem(i);
  const std::string_view name = canonical_entity(entity_form(x.tok.word(i)));
  for (std::size_t j = 0; j < y.tok.tokens.size(); ++j) {
    if (y.tok.stem(j) == stem || canonical_entity(entity_form(y.tok.word(j))) == name) return true;
  }
  return false;
}

// True when an entity of `x` is missing from `y`.
bool entity_missing(const Analysis& x, const Analysis& y) {
  return std::any_of(x.entities.begin(), x.entities.end(), [&](std::uint32_t e) { return !has_entity(x, e, y); });
}

// Words that relate two things symmetrically: "X and Y", "X vs Y", "between X and Y".
bool is_symmetric_word(std::string_view word) {
  static constexpr std::array<std::string_view, 19> kWords = {
      "and", "or", "vs", "versus", "with", "between", "&", "und", "oder", "zwischen",
      "mit", "et", "ou", "entre",  "avec", "y",       "o", "e",   "con"};
  return std::find(kWords.begin(), kWords.end(), word) != kWords.end();
}

bool is_replace_word(std::string_view word) {
  static constexpr std::array<std::string_view, 7> kWords = {"replace",  "replacing", "substitute", "swap",
                                                             "exchange", "convert",   "change"};
  return std::find(kWords.begin(), kWords.end(), word) != kWords.end();
}

// "did the lakers beat the celtics" / "did the celtics beat the lakers": the same words, with
// two content words trading places across at least one word that is not symmetric.
bool roles_swapped(const Analysis& a, const Analysis& b) {
  const std::size_t n = a.tok.tokens.size();
  if (n != b.tok.tokens.size()) return false;
  std::size_t first = n, second = n;
  for (std::size_t i = 0; i < n; ++i) {
    if (a.tok.word(i) == b.tok.word(i)) continue;  // words, not stems: "http" / "https"
    if (first == n) {
      first = i;
    } else if (second == n) {
      second = i;
    } else {
      return false;  // more than a swap of two words
    }
  }
  if (second == n || second - first < 2) return false;  // no swap, or adjacent words ("python list")
  if (a.tok.stem(first) != b.tok.stem(second) || a.tok.stem(second) != b.tok.stem(first)) return false;
  if (!is_content(a, first) || !is_content(a, second)) return false;
  // "replace tabs with spaces": "with" is directional after replace and its kin.
  const bool replacing = first > 0 && is_replace_word(a.tok.word(first - 1));
  for (std::size_t k = first + 1; k < second; ++k) {
    if (is_symmetric_word(a.tok.word(k)) && !(replacing && a.tok.word(k) == "with")) return false;
  }
  return true;
}

}  // namespace

namespace {

// True when two differing content words may ask the same: aliases, one word a form of the
// other (convert / conversion, install / installation), or one synonym group.
bool same_meaning(std::string_view u, std::string_view v, const Lexicon& lex) {
  if (canonical_entity(entity_form(u)) == canonical_entity(entity_form(v))) return true;
  const auto is_letters = [](std::string_view w) {
    return std::all_of(w.begin(), w.end(), [](char c) { return (c >= 'a' && c <= 'z'); });
  };
  const std::size_t shorter = std::min(u.size(), v.size());
  const auto common = static_cast<std::size_t>(
      std::mismatch(u.begin(), u.begin() + static_cast<std::ptrdiff_t>(shorter), v.begin()).first - u.begin());
  if (is_letters(u) && is_letters(v) && common >= 6 && common * 4 >= shorter * 3) return true;
  const auto gu = lex.synonyms.find(u);
  const auto gv = lex.synonyms.find(v);
  if (gu == lex.synonyms.end() || gv == lex.synonyms.end()) return false;
  return std::any_of(gu->second.begin(), gu->second.end(), [&](std::uint32_t g) {
    return std::find(gv->second.begin(), gv->second.end(), g) != gv->second.end();
  });
}

}  // namespace

bool one_word_swapped(const Analysis& a, const Analysis& b, const Lexicon& lex) {
  // The same sentence but for one content word in one place: the template of a question with
  // another slot filler ("reset my password" / "reset my router"), unless the words are known
  // to mean the same. Rewordings change more than one word, or the order.
  const std::size_t n = a.tok.tokens.size();
  if (n != b.tok.tokens.size() || n < 2) return false;  // a template needs a shared frame
  std::size_t differing = n;
  for (std::size_t i = 0; i < n; ++i) {
    if (a.tok.stem(i) == b.tok.stem(i)) continue;
    if (differing != n) return false;
    differing = i;
  }
  if (differing == n || !is_content(a, differing) || !is_content(b, differing)) return false;
  // Numbers passed the number check already ("7:00" / "7", "1" / "one").
  if (a.tok.has(differing, kHasDigit) || b.tok.has(differing, kHasDigit)) return false;
  return !same_meaning(a.tok.stem(differing), b.tok.stem(differing), lex);
}

bool entities_match(const Analysis& a, const Analysis& b) {
  // Each text names something the other does not ("ship to Canada" / "ship to Mexico"). A text
  // that only adds a name to the other's ("center a div" / "center a div in CSS") asks the same,
  // more precisely; names written in lower case are left to one_word_swapped.
  return !(entity_missing(a, b) && entity_missing(b, a));
}

bool direction_matches(const Analysis& a, const Analysis& b) {
  if (roles_swapped(a, b)) return false;
  // Rejects when a puts u before v across a connector (and never v before u), and b puts v
  // before u (and never u before v); comparing orders, not positions, keeps a text that repeats
  // its words ("x to y to x") consistent with itself.
  for (const Connector& ca : a.connectors) {
    for (const Connector& cb : b.connectors) {
      if (ca.kind != cb.kind) continue;
      for (std::uint32_t i = ca.left_begin; i < ca.at; ++i) {
        if (!is_content(a, i)) continue;
        const std::string_view u = a.tok.stem(i);
        if (!stem_in(b, cb.at + 1, cb.right_end, u)) continue;
        for (std::uint32_t j = ca.at + 1; j < ca.right_end; ++j) {
          if (!is_content(a, j)) continue;
          const std::string_view v = a.tok.stem(j);
          if (!stem_in(b, cb.left_begin, cb.at, v)) continue;
          if (!has_order(a, v, u, ca.kind) && !has_order(b, u, v, ca.kind)) return false;
        }
      }
    }
  }
  return true;
}

}  // namespace engram::guard_detail
