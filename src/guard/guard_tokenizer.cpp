// LexicalGuard's tokenizer (see guard_tokenizer.hpp). ASCII text never calls utf8proc.
#include "guard_tokenizer.hpp"

#include <utf8proc.h>

#include <array>

#include "guard_lexicon.hpp"

namespace engram::guard_detail {
namespace {

struct Cp {
  std::int32_t cp = 0;
  std::uint32_t len = 0;  // 0: past the end
};

enum class Kind : std::uint8_t { kOther, kLetter, kDigit, kMark };

Cp decode(std::string_view s, std::size_t i) noexcept {
  if (i >= s.size()) return {};
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return {c, 1};
  utf8proc_int32_t cp = 0;
  const utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                                              static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
  if (n <= 0) return {0xfffd, 1};
  return {cp, static_cast<std::uint32_t>(n)};
}

Kind kind_of(std::int32_t cp) noexcept {
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return Kind::kLetter;
    if (cp >= '0' && cp <= '9') return Kind::kDigit;
    return Kind::kOther;
  }
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return Kind::kLetter;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      return Kind::kMark;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return Kind::kDigit;
    default:
      return Kind::kOther;
  }
}

bool is_upper(std::int32_t cp) noexcept {
  if (cp < 0x80) return cp >= 'A' && cp <= 'Z';
  const utf8proc_category_t cat = utf8proc_category(cp);
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT;
}

bool is_lower(std::int32_t cp) noexcept {
  if (cp < 0x80) return cp >= 'a' && cp <= 'z';
  return utf8proc_category(cp) == UTF8PROC_CATEGORY_LL;
}

bool is_currency(std::int32_t cp) noexcept { return cp == '$' || cp == 0x20ac || cp == 0xa3 || cp == 0xa5; }
bool is_apostrophe(std::int32_t cp) noexcept { return cp == '\'' || cp == 0x2019 || cp == 0x02bc; }
bool is_space(std::int32_t cp) noexcept {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || cp == 0xa0 ||
         cp == 0x3000 || (cp >= 0x2000 && cp <= 0x200a);
}
bool is_word(Kind k) noexcept { return k != Kind::kOther; }

// True when `s` continues at `at` with the word "free" (any case) and nothing more of the word.
bool free_suffix_at(std::string_view s, std::size_t at) {
  if (s.size() < at + 4) return false;
  for (std::size_t i = 0; i < 4; ++i) {
    if ((s[at + i] | 0x20) != "free"[i]) return false;
  }
  return s.size() == at + 4 || !is_word(kind_of(decode(s, at + 4).cp));
}

// French elisions split off their word: l'ordinateur -> l' ordinateur, n'est -> n' est.
constexpr std::array<std::string_view, 12> kElisions = {"l", "d", "n",  "j",     "m",      "t",
                                                        "s", "c", "qu", "jusqu", "lorsqu", "puisqu"};

struct Scan {
  std::size_t end = 0;
  std::uint16_t flags = 0;
  std::size_t apostrophe = std::string_view::npos;  // byte offset of the first inner apostrophe
  bool slash = false;
};

// Scans the token that starts at `i` (a word character or a leading # $ - _ @ / .).
Scan scan_token(std::string_view s, std::size_t i) {
  Scan r;
  std::size_t j = i;
  const Cp first = decode(s, i);
  bool option = false;
  bool dot = false;
  std::size_t segment = 0;      // letters in the current dot-separated segment
  std::size_t max_segment = 0;  // longest segment
  if (first.cp == '#') {
    r.flags |= kHashToken;
    ++j;
  } else if (first.cp == '-') {
    ++j;
    if (decode(s, j).cp == '-') ++j;
    if (kind_of(decode(s, j).cp) == Kind::kLetter) {
      option = true;
      r.flags |= kOptionFlag;
    }
  } else if (is_currency(first.cp)) {
    j += first.len;
  } else if (first.cp == '_' || first.cp == '@' || first.cp == '/' || first.cp == '.') {
    r.flags |= kIdentifier;
    ++j;
  }
  Kind prev = Kind::kOther;
  std::int32_t prev_cp = 0;
  std::size_t letters = 0;
  std::size_t uppers = 0;
  bool seen_letter = false;
  while (j < s.size()) {
    const Cp c = decode(s, j);
    const Kind k = kind_of(c.cp);
    if (is_word(k)) {
      if (k == Kind::kLetter) {
        if (!seen_letter && is_upper(c.cp)) r.flags |= kCapitalized;
        seen_letter = true;
        ++letters;
        ++segment;
        if (is_upper(c.cp)) {
          ++uppers;
          if (is_lower(prev_cp) && prev == Kind::kLetter) r.flags |= kIdentifier;  // camelCase
        }
        r.flags |= kHasLetter;
      } else if (k == Kind::kDigit) {
        r.flags |= kHasDigit;
      }
      prev = k;
      prev_cp = c.cp;
      j += c.len;
      continue;
    }
    const Cp next = decode(s, j + c.len);
    const Kind nk = next.len == 0 ? Kind::kOther : kind_of(next.cp);
    const bool prev_word = is_word(prev);
    bool consume = false;
    bool stop_after = false;
    std::size_t width = c.len;
    switch (c.cp) {
      case '.':
        consume = prev_word && is_word(nk);
        if (consume) {
          dot = true;
          max_segment = std::max(max_segment, segment);
          segment = 0;
        }
        break;
      case '_':
        consume = is_word(nk) || next.cp == '_';
        if (consume) r.flags |= kIdentifier;
        break;
      case '-':
        // "gluten-free" stays one word: its "-free" negates it, like "without gluten".
        consume = prev_word && is_word(nk) &&
                  (prev == Kind::kDigit || nk == Kind::kDigit || option || (r.flags & kHasDigit) != 0 ||
                   (r.flags & kIdentifier) != 0 || free_suffix_at(s, j + c.len));
        break;
      case ':':
        if (prev_word && next.cp == ':' && is_word(kind_of(decode(s, j + 2).cp))) {
          consume = true;
          width = 2;
          r.flags |= kIdentifier;
        } else {
          consume = prev == Kind::kDigit && nk == Kind::kDigit;
        }
        break;
      case '/':
        consume = prev_word && is_word(nk);
        if (consume) r.slash = true;
        break;
      case ',':
        consume = prev == Kind::kDigit && nk == Kind::kDigit;
        break;
      case '%':
        consume = stop_after = prev == Kind::kDigit;
        break;
      case '+':
        if (prev == Kind::kLetter) {
          while (j + width < s.size() && s[j + width] == '+') ++width;
          consume = stop_after = true;
          r.flags |= kIdentifier;
        }
        break;
      case '#':
        if (prev == Kind::kLetter && !is_word(nk)) {
          consume = stop_after = true;
          r.flags |= kIdentifier;
        }
        break;
      case '@':
        consume = prev_word && is_word(nk);
        if (consume) r.flags |= kIdentifier;
        break;
      default:
        if (is_currency(c.cp)) {
          consume = stop_after = prev == Kind::kDigit;
        } else if (is_apostrophe(c.cp)) {
          consume = prev == Kind::kLetter && nk == Kind::kLetter;
          if (consume && r.apostrophe == std::string_view::npos) r.apostrophe = j;
        }
        break;
    }
    if (!consume) break;
    j += width;
    prev = Kind::kOther;
    prev_cp = c.cp;
    if (stop_after) break;
  }
  max_segment = std::max(max_segment, segment);
  if (dot && max_segment >= 2) r.flags |= kIdentifier;  // numpy.mean, file.txt; not e.g. or a.m.
  if (r.slash) r.flags |= kIdentifier;
  if (letters >= 2 && uppers == letters) r.flags |= kAllCaps;
  r.end = j;
  return r;
}

bool starts_token(std::string_view s, std::size_t i, const Cp& c) {
  if (is_word(kind_of(c.cp))) return true;
  const Cp next = decode(s, i + c.len);
  const Kind nk = next.len == 0 ? Kind::kOther : kind_of(next.cp);
  const bool after_space = i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t' || s[i - 1] == '\n' || s[i - 1] == '(' ||
                           s[i - 1] == '"' || s[i - 1] == '`' || s[i - 1] == '\'';
  switch (c.cp) {
    case '#':
      return is_word(nk);
    case '-':
      return after_space && (is_word(nk) || (next.cp == '-' && kind_of(decode(s, i + 2).cp) == Kind::kLetter));
    case '_':
      return is_word(nk) || next.cp == '_';
    case '@':
    case '/':
    case '.':
      return after_space && is_word(nk);
    default:
      return is_currency(c.cp) && nk == Kind::kDigit;
  }
}

class Emitter {
 public:
  explicit Emitter(TokenizedText& out) : out_(out) {}

  void emit(std::string_view original, const Scan& scan, std::uint16_t flags) {
    fold_into(original, out_.scratch);
    const std::string_view folded = out_.scratch;
    if (scan.apostrophe != std::string_view::npos) {
      const std::size_t pos = folded.find('\'');
      if (pos != std::string_view::npos && pos + 1 < folded.size()) {
        const std::string_view head = folded.substr(0, pos);
        for (std::string_view elision : kElisions) {
          if (head != elision) continue;
          push(folded.substr(0, pos + 1),
               static_cast<std::uint16_t>(flags & (kSentenceStart | kClauseStart | kQuoted)) | kHasLetter);
          std::uint16_t rest = flags & static_cast<std::uint16_t>(kQuoted | kHasDigit | kHasLetter | kIdentifier);
          const std::size_t after = scan.apostrophe - static_cast<std::size_t>(original.data() - base_);
          const Cp next = decode(original, after + decode(original, after).len);
          if (is_upper(next.cp)) rest |= kCapitalized;
          push(folded.substr(pos + 1), rest);
          return;
        }
      }
    }
    push(folded, flags);
  }

  void set_base(const char* base) { base_ = base; }

 private:
  void push(std::string_view word, std::uint16_t flags) {
    Token t;
    t.text_begin = static_cast<std::uint32_t>(out_.text.size());
    t.text_len = static_cast<std::uint32_t>(word.size());
    out_.text.append(word);
    t.stem_begin = static_cast<std::uint32_t>(out_.stems.size());
    append_stem(word, out_.stems);
    t.stem_len = static_cast<std::uint32_t>(out_.stems.size() - t.stem_begin);
    if (word == "and/or") flags &= static_cast<std::uint16_t>(~kIdentifier);
    t.flags = flags;
    out_.tokens.push_back(t);
  }

  TokenizedText& out_;
  const char* base_ = nullptr;
};

}  // namespace

void tokenize(std::string_view s, TokenizedText& out) {
  out.text.clear();
  out.stems.clear();
  out.tokens.clear();
  Emitter emitter(out);
  emitter.set_base(s.data());
  bool sentence = true;
  bool clause = true;
  bool in_quote = false;
  std::size_t quote_first = 0;
  std::size_t i = 0;
  const auto open_quote = [&] {
    in_quote = true;
    quote_first = out.tokens.size();
  };
  while (i < s.size()) {
    const Cp c = decode(s, i);
    if (starts_token(s, i, c)) {
      const Scan scan = scan_token(s, i);
      std::uint16_t flags = scan.flags;
      if (sentence) flags |= kSentenceStart;
      if (clause) flags |= kClauseStart;
      if (in_quote) flags |= kQuoted;
      emitter.emit(s.substr(i, scan.end - i), scan, flags);
      sentence = clause = false;
      i = scan.end > i ? scan.end : i + c.len;
      continue;
    }
    switch (c.cp) {
      case '.':
      case '?':
      case '!':
      case ':':
      case '\n':
      case '\r':
      case 0x2026:  // …
      case 0xbf:    // ¿
      case 0xa1:    // ¡
        sentence = clause = true;
        break;
      case '"':
      case '`':
      case 0x201c:  // “ (opens in English, closes in German)
        if (in_quote) {
          in_quote = false;
        } else {
          open_quote();
        }
        clause = true;
        break;
      case 0x201e:  // „
      case 0xab:    // «
      case 0x2018:  // ‘
      case 0x2039:  // ‹
        open_quote();
        clause = true;
        break;
      case 0x201d:  // ”
      case 0xbb:    // »
      case 0x2019:  // ’
      case 0x203a:  // ›
        in_quote = false;
        clause = true;
        break;
      case '\'': {
        if (in_quote) {
          in_quote = false;
        } else {
          const bool after_space = i == 0 || is_space(decode(s, i - 1).cp) || s[i - 1] == '(';
          const Cp next = decode(s, i + 1);
          if (after_space && next.len != 0 && !is_space(next.cp)) open_quote();
        }
        clause = true;
        break;
      }
      default:
        if (!is_space(c.cp)) clause = true;
        break;
    }
    i += c.len;
  }
  if (in_quote) {  // an unbalanced quote quotes nothing
    for (std::size_t t = quote_first; t < out.tokens.size(); ++t) {
      out.tokens[t].flags &= static_cast<std::uint16_t>(~kQuoted);
    }
  }
}

}  // namespace engram::guard_detail
