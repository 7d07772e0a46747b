// The BERT WordPiece tokenizer (see wordpiece.hpp). encode() makes one pass over the text:
// special tokens are matched on the raw bytes, the rest is normalized code point by code point
// (ASCII through a table, the rest through utf8proc) straight into the current word, and each
// word is cut into wordpieces as soon as it ends. Lookups are string_views into one buffer that
// holds "##" + the word, so no candidate piece is ever copied.
#include "wordpiece.hpp"

#include <simdjson.h>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <system_error>
#include <utility>

#include "engram/errors.hpp"
#include "engram/normalize.hpp"

namespace engram::detail {
namespace {

constexpr std::string_view kPrefix = "##";
constexpr std::size_t kMaxFileBytes = std::size_t{1} << 30;

[[noreturn]] void fail(const std::string& source, const std::string& what, const std::string& remediation) {
  throw InvalidArgument(source + ": " + what + ". Remediation: " + remediation);
}

// A token or key for an error message: quoted, at most 40 bytes, control bytes escaped.
std::string quote(std::string_view s) {
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < 40; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 40) out += "...";
  return out + "'";
}

std::string read_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    fail(name, "no such file",
         "point at a model directory holding tokenizer.json or vocab.txt (scripts/fetch-model.sh)");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) fail(name, "cannot read its size (" + ec.message() + ")", "check the file's permissions");
  if (size > kMaxFileBytes) fail(name, "is larger than 1 GiB", "use the tokenizer files of a BERT model");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fail(name, "cannot be opened (" + std::error_code(errno, std::generic_category()).message() + ")",
         "check the file's permissions");
  }
  std::string data(static_cast<std::size_t>(size), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (static_cast<std::size_t>(in.gcount()) != data.size())
    fail(name, "cannot be read completely", "re-fetch the model");
  return data;
}

// ---- Unicode classes, as the reference (Rust `tokenizers`) computes them ----------------------

// The Unicode White_Space property (Rust's char::is_whitespace).
bool is_white_space(char32_t cp) noexcept {
  return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

// The blocks the reference surrounds with spaces (its table, including its 0x2B920 start).
bool is_cjk(char32_t cp) noexcept {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
         (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
         (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

// The reference takes general categories from older Unicode tables than utf8proc's (and its
// lower-case mappings from newer ones). These corrections were derived by running both over every
// code point (the test UnicodeClasses re-checks them against tests/data/bert/unicode_classes.json).
struct Range {
  char32_t first, last;
};
template <std::size_t N>
constexpr bool in(const Range (&ranges)[N], char32_t cp) noexcept {
  const Range* it = std::lower_bound(ranges, ranges + N, cp, [](const Range& r, char32_t c) { return r.last < c; });
  return it != ranges + N && it->first <= cp;
}
// Cf/Cc in utf8proc's tables that the reference keeps.
constexpr Range kKeptFormat[] = {{0x890, 0x891}, {0x8e2, 0x8e2}, {0x110cd, 0x110cd}, {0x13430, 0x1343f}};
// Mn for the reference (older tables), not for utf8proc.
constexpr Range kExtraMarks[] = {{0x1734, 0x1734}};
// Mn for utf8proc, not for the reference (assigned or re-categorized after its tables).
constexpr Range kNotMarks[] = {
    {0x7fd, 0x7fd},     {0x898, 0x89f},     {0x8ca, 0x8e1},     {0x9fe, 0x9fe},     {0xafa, 0xaff},
    {0xb55, 0xb55},     {0xc04, 0xc04},     {0xc3c, 0xc3c},     {0xd00, 0xd00},     {0xd3b, 0xd3c},
    {0xd81, 0xd81},     {0xeba, 0xeba},     {0xece, 0xece},     {0x180f, 0x180f},   {0x1885, 0x1886},
    {0x1abf, 0x1ace},   {0x1df6, 0x1dfb},   {0xa82c, 0xa82c},   {0xa8c5, 0xa8c5},   {0xa8ff, 0xa8ff},
    {0xa9bd, 0xa9bd},   {0x10d24, 0x10d27}, {0x10eab, 0x10eac}, {0x10efd, 0x10eff}, {0x10f46, 0x10f50},
    {0x10f82, 0x10f85}, {0x11070, 0x11070}, {0x11073, 0x11074}, {0x110c2, 0x110c2}, {0x111c9, 0x111c9},
    {0x111cf, 0x111cf}, {0x1123e, 0x1123e}, {0x11241, 0x11241}, {0x1133b, 0x1133b}, {0x11438, 0x1143f},
    {0x11442, 0x11444}, {0x11446, 0x11446}, {0x1145e, 0x1145e}, {0x1182f, 0x11837}, {0x11839, 0x1183a},
    {0x1193b, 0x1193c}, {0x1193e, 0x1193e}, {0x11943, 0x11943}, {0x119d4, 0x119d7}, {0x119da, 0x119db},
    {0x119e0, 0x119e0}, {0x11a01, 0x11a0a}, {0x11a33, 0x11a38}, {0x11a3b, 0x11a3e}, {0x11a47, 0x11a47},
    {0x11a51, 0x11a56}, {0x11a59, 0x11a5b}, {0x11a8a, 0x11a96}, {0x11a98, 0x11a99}, {0x11c30, 0x11c36},
    {0x11c38, 0x11c3d}, {0x11c3f, 0x11c3f}, {0x11c92, 0x11ca7}, {0x11caa, 0x11cb0}, {0x11cb2, 0x11cb3},
    {0x11cb5, 0x11cb6}, {0x11d31, 0x11d36}, {0x11d3a, 0x11d3a}, {0x11d3c, 0x11d3d}, {0x11d3f, 0x11d45},
    {0x11d47, 0x11d47}, {0x11d90, 0x11d91}, {0x11d95, 0x11d95}, {0x11d97, 0x11d97}, {0x11ef3, 0x11ef4},
    {0x11f00, 0x11f01}, {0x11f36, 0x11f3a}, {0x11f40, 0x11f40}, {0x11f42, 0x11f42}, {0x13440, 0x13440},
    {0x13447, 0x13455}, {0x16f4f, 0x16f4f}, {0x16fe4, 0x16fe4}, {0x1cf00, 0x1cf2d}, {0x1cf30, 0x1cf46},
    {0x1e000, 0x1e006}, {0x1e008, 0x1e018}, {0x1e01b, 0x1e021}, {0x1e023, 0x1e024}, {0x1e026, 0x1e02a},
    {0x1e08f, 0x1e08f}, {0x1e130, 0x1e136}, {0x1e2ae, 0x1e2ae}, {0x1e2ec, 0x1e2ef}, {0x1e4ec, 0x1e4ef},
    {0x1e944, 0x1e94a}};
// P* for the reference, not for utf8proc.
constexpr Range kExtraPunctuation[] = {{0x166d, 0x166d}, {0x111c9, 0x111c9}};
// P* for utf8proc, not for the reference.
constexpr Range kNotPunctuation[] = {{0x61d, 0x61d},     {0x9fd, 0x9fd},     {0xa76, 0xa76},     {0xc77, 0xc77},
                                     {0xc84, 0xc84},     {0x1b7d, 0x1b7e},   {0x2e43, 0x2e4f},   {0x2e52, 0x2e5d},
                                     {0x10ead, 0x10ead}, {0x10f55, 0x10f59}, {0x10f86, 0x10f89}, {0x1144b, 0x1144f},
                                     {0x1145a, 0x1145b}, {0x1145d, 0x1145d}, {0x11660, 0x1166c}, {0x116b9, 0x116b9},
                                     {0x1183b, 0x1183b}, {0x11944, 0x11946}, {0x119e2, 0x119e2}, {0x11a3f, 0x11a46},
                                     {0x11a9a, 0x11a9c}, {0x11a9e, 0x11aa2}, {0x11b00, 0x11b09}, {0x11c41, 0x11c45},
                                     {0x11c70, 0x11c71}, {0x11ef7, 0x11ef8}, {0x11f43, 0x11f4f}, {0x11fff, 0x11fff},
                                     {0x12ff1, 0x12ff2}, {0x16e97, 0x16e9a}, {0x16fe2, 0x16fe2}, {0x1e95e, 0x1e95f}};
// Lower-case mappings the reference has (newer tables) and utf8proc lacks.
constexpr std::pair<char32_t, char32_t> kExtraLowercase[] = {
    {0x1c89, 0x1c8a},   {0xa7cb, 0x264},    {0xa7cc, 0xa7cd},   {0xa7ce, 0xa7cf},   {0xa7d2, 0xa7d3},
    {0xa7d4, 0xa7d5},   {0xa7da, 0xa7db},   {0xa7dc, 0x19b},    {0x10d50, 0x10d70}, {0x10d51, 0x10d71},
    {0x10d52, 0x10d72}, {0x10d53, 0x10d73}, {0x10d54, 0x10d74}, {0x10d55, 0x10d75}, {0x10d56, 0x10d76},
    {0x10d57, 0x10d77}, {0x10d58, 0x10d78}, {0x10d59, 0x10d79}, {0x10d5a, 0x10d7a}, {0x10d5b, 0x10d7b},
    {0x10d5c, 0x10d7c}, {0x10d5d, 0x10d7d}, {0x10d5e, 0x10d7e}, {0x10d5f, 0x10d7f}, {0x10d60, 0x10d80},
    {0x10d61, 0x10d81}, {0x10d62, 0x10d82}, {0x10d63, 0x10d83}, {0x10d64, 0x10d84}, {0x10d65, 0x10d85},
    {0x16ea0, 0x16ebb}, {0x16ea1, 0x16ebc}, {0x16ea2, 0x16ebd}, {0x16ea3, 0x16ebe}, {0x16ea4, 0x16ebf},
    {0x16ea5, 0x16ec0}, {0x16ea6, 0x16ec1}, {0x16ea7, 0x16ec2}, {0x16ea8, 0x16ec3}, {0x16ea9, 0x16ec4},
    {0x16eaa, 0x16ec5}, {0x16eab, 0x16ec6}, {0x16eac, 0x16ec7}, {0x16ead, 0x16ec8}, {0x16eae, 0x16ec9},
    {0x16eaf, 0x16eca}, {0x16eb0, 0x16ecb}, {0x16eb1, 0x16ecc}, {0x16eb2, 0x16ecd}, {0x16eb3, 0x16ece},
    {0x16eb4, 0x16ecf}, {0x16eb5, 0x16ed0}, {0x16eb6, 0x16ed1}, {0x16eb7, 0x16ed2}, {0x16eb8, 0x16ed3}};

utf8proc_category_t category(char32_t cp) noexcept {
  return static_cast<utf8proc_category_t>(utf8proc_category(static_cast<utf8proc_int32_t>(cp)));
}

// Dropped by the text cleanup: U+0000, U+FFFD and the categories Cc, Cf, Co (and Cs) except
// \t \n \r; unassigned code points (Cn) are kept, as the reference keeps them.
bool is_dropped(char32_t cp) noexcept {
  if (cp == 0 || cp == 0xfffd) return true;
  if (cp == '\t' || cp == '\n' || cp == '\r' || in(kKeptFormat, cp)) return false;
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS:
      return true;
    default:
      return false;
  }
}

bool is_nonspacing_mark(char32_t cp) noexcept {
  if (category(cp) == UTF8PROC_CATEGORY_MN) return !in(kNotMarks, cp);
  return in(kExtraMarks, cp);
}

bool is_punctuation(char32_t cp) noexcept {
  if (cp < 0x80)
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
  if (in(kNotPunctuation, cp)) return false;
  if (in(kExtraPunctuation, cp)) return true;
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

// What the ASCII fast path does with a byte.
enum class Ascii : std::uint8_t { kDrop, kSpace, kPunct, kChar };
constexpr std::array<Ascii, 128> make_ascii_table() {
  std::array<Ascii, 128> table{};
  for (int c = 0; c < 128; ++c) {
    if (c == '\t' || c == '\n' || c == '\r' || c == ' ') table[c] = Ascii::kSpace;
    else if (c < 0x20 || c == 0x7f) table[c] = Ascii::kDrop;  // C0 controls (including \v and \f) and DEL are Cc
    else if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
      table[c] = Ascii::kPunct;
    else table[c] = Ascii::kChar;
  }
  return table;
}
constexpr std::array<Ascii, 128> kAscii = make_ascii_table();

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Decodes the code point at text[i] (valid UTF-8) and advances i.
char32_t decode(std::string_view text, std::size_t& i) noexcept {
  const auto b0 = static_cast<unsigned char>(text[i]);
  auto cont = [&](std::size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(text[i + k]) & 0x3f); };
  char32_t cp;
  if (b0 < 0x80) {
    cp = b0;
    i += 1;
  } else if (b0 < 0xe0) {
    cp = (static_cast<char32_t>(b0 & 0x1f) << 6) | cont(1);
    i += 2;
  } else if (b0 < 0xf0) {
    cp = (static_cast<char32_t>(b0 & 0x0f) << 12) | (cont(1) << 6) | cont(2);
    i += 3;
  } else {
    cp = (static_cast<char32_t>(b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
    i += 4;
  }
  return cp;
}

char32_t to_lower(char32_t cp) noexcept {
  const auto lower = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
  if (lower != cp || cp < 0x1c89) return lower;
  const auto* end = std::end(kExtraLowercase);
  const auto* it = std::lower_bound(std::begin(kExtraLowercase), end, cp,
                                    [](const std::pair<char32_t, char32_t>& p, char32_t c) { return p.first < c; });
  return it != end && it->first == cp ? it->second : cp;
}

std::uint8_t combining_class(char32_t cp) noexcept {
  return static_cast<std::uint8_t>(utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class);
}

void check_utf8(std::string_view text) {
  if (!is_valid_utf8(text))
    throw InvalidArgument("text to tokenize is not valid UTF-8. Remediation: re-encode it as UTF-8.");
}

}  // namespace

// One encode() call: normalizes and pre-tokenizes code point by code point into the current
// word, and cuts each finished word into wordpieces (or, without a tokenizer, collects it).
class WordPieceEncoder {
 public:
  WordPieceEncoder(const WordPieceTokenizer* tokenizer, const WordPieceOptions& options, bool strip_accents,
                   std::vector<std::int32_t>* ids, std::size_t limit, std::vector<std::string>* words)
      : tokenizer_(tokenizer),
        lowercase_(options.lowercase),
        strip_(strip_accents),
        cjk_(options.split_cjk),
        ids_(ids),
        limit_(limit),
        words_(words) {}

  // True once `limit` ids are out: the rest of the text cannot change them.
  bool full() const noexcept { return ids_ != nullptr && ids_->size() >= limit_; }

  // Normalizes and tokenizes `text` (valid UTF-8), a piece between special tokens.
  void segment(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size() && !full()) {
      const auto byte = static_cast<unsigned char>(text[i]);
      if (byte < 0x80 && marks_.empty()) {  // ASCII: no decomposition, combining class 0
        ++i;
        switch (kAscii[byte]) {
          case Ascii::kDrop:
            break;
          case Ascii::kSpace:
            end_word();
            break;
          case Ascii::kPunct:
            end_word();
            append(byte);
            end_word();
            break;
          case Ascii::kChar:
            append(lowercase_ && byte >= 'A' && byte <= 'Z' ? byte + ('a' - 'A') : byte);
            break;
        }
        continue;
      }
      const char32_t cp = decode(text, i);
      if (is_dropped(cp)) continue;
      if (is_white_space(cp)) {
        nfd(' ');
      } else if (cjk_ && is_cjk(cp)) {
        nfd(' ');
        nfd(cp);
        nfd(' ');
      } else {
        nfd(cp);
      }
    }
    flush_marks();
    end_word();
  }

 private:
  // Canonical decomposition and ordering (when stripping accents), then the next stage.
  void nfd(char32_t cp) {
    if (!strip_) return mapped(cp);
    if (cp < 0x80) {
      flush_marks();
      return mapped(cp);
    }
    if (cp == 0x11938) {  // the one canonical decomposition the reference's (pre-13.0) tables lack
      flush_marks();
      return mapped(cp);
    }
    utf8proc_int32_t parts[16];
    utf8proc_int32_t boundclass = UTF8PROC_BOUNDCLASS_START;
    const utf8proc_ssize_t n =
        utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), parts, 16, UTF8PROC_DECOMPOSE, &boundclass);
    if (n < 1 || n > 16) return mapped(cp);  // cannot happen for a valid code point
    for (utf8proc_ssize_t k = 0; k < n; ++k) {
      const auto part = static_cast<char32_t>(parts[k]);
      if (combining_class(part) == 0) {
        flush_marks();
        mapped(part);
      } else {
        marks_.push_back(part);
      }
    }
  }

  // A run of combining marks, stably sorted by combining class (canonical ordering).
  void flush_marks() {
    if (marks_.empty()) return;
    for (std::size_t a = 1; a < marks_.size(); ++a) {
      const char32_t cp = marks_[a];
      const auto cc = combining_class(cp);
      std::size_t b = a;
      for (; b > 0 && combining_class(marks_[b - 1]) > cc; --b) marks_[b] = marks_[b - 1];
      marks_[b] = cp;
    }
    for (const char32_t cp : marks_) mapped(cp);
    marks_.clear();
  }

  // Accent stripping's filter, lower-casing, then pre-tokenization.
  void mapped(char32_t cp) {
    if (strip_ && cp >= 0x80 && is_nonspacing_mark(cp)) return;
    if (lowercase_) {
      if (cp == 0x130) {  // the one unconditional multi-character lower-case mapping
        split('i');
        return split(0x307);
      }
      cp = to_lower(cp);
    }
    split(cp);
  }

  void split(char32_t cp) {
    if (is_white_space(cp)) return end_word();
    if (is_punctuation(cp)) {
      end_word();
      append(cp);
      return end_word();
    }
    append(cp);
  }

  void append(char32_t cp) {
    append_utf8(word_, cp);
    ++chars_;
  }

  void end_word() {
    if (chars_ == 0) return;
    if (words_ != nullptr) {
      words_->emplace_back(word_.substr(kPrefix.size()));
    } else if (!full()) {
      wordpiece();
      if (ids_->size() > limit_) ids_->resize(limit_);
    }
    word_.resize(kPrefix.size());
    chars_ = 0;
  }

  // Greedy longest-match-first. The candidate "##" + word[start, end) is a view of word_ once the
  // two bytes before word[start] (already consumed) are overwritten with "##".
  void wordpiece() {
    const WordPieceTokenizer& t = *tokenizer_;
    const std::size_t mark = ids_->size();
    if (chars_ > t.max_word_chars_) return ids_->push_back(t.unk_id_);
    char* const base = word_.data();
    char* const bytes = base + kPrefix.size();
    const std::size_t n = word_.size() - kPrefix.size();
    std::size_t start = 0;
    while (start < n) {
      std::size_t end = n;
      std::int32_t id = -1;
      while (start < end) {
        const std::string_view piece =
            start == 0 ? std::string_view(bytes, end) : std::string_view(base + start, end - start + kPrefix.size());
        if (const auto it = t.ids_.find(piece); it != t.ids_.end()) {
          id = it->second;
          break;
        }
        do --end;
        while (end > start && (static_cast<unsigned char>(bytes[end]) & 0xc0) == 0x80);
      }
      if (id < 0) {
        ids_->resize(mark);
        return ids_->push_back(t.unk_id_);
      }
      ids_->push_back(id);
      start = end;
      if (start < n) std::memcpy(base + start, kPrefix.data(), kPrefix.size());
    }
  }

  const WordPieceTokenizer* tokenizer_;
  bool lowercase_, strip_, cjk_;
  std::vector<std::int32_t>* ids_;
  std::size_t limit_;
  std::vector<std::string>* words_;
  std::string word_{kPrefix};    // "##" + the current word's UTF-8 bytes
  std::size_t chars_ = 0;        // code points in the current word
  std::vector<char32_t> marks_;  // decomposed combining marks awaiting canonical ordering
};

std::vector<std::string> bert_pre_tokenize(std::string_view text, const WordPieceOptions& options) {
  check_utf8(text);
  std::vector<std::string> words;
  WordPieceEncoder encoder(nullptr, options, options.strip_accents.value_or(options.lowercase), nullptr, 0, &words);
  encoder.segment(text);
  return words;
}

std::vector<std::int32_t> WordPieceTokenizer::encode(std::string_view text) const {
  check_utf8(text);
  std::vector<std::int32_t> ids;
  ids.reserve(std::min<std::size_t>(options_.max_length, text.size() / 3 + 8));
  ids.push_back(cls_id_);
  const std::size_t limit = options_.max_length - 1;  // room for [SEP]
  WordPieceEncoder encoder(this, options_, strip_accents_, &ids, limit, nullptr);
  std::size_t pos = 0;
  // Where each special token next occurs at or after `pos` (searched again only once passed).
  std::array<std::size_t, 8> next_small{};
  std::vector<std::size_t> next_large;
  std::size_t* next = next_small.data();
  if (specials_.size() > next_small.size()) {
    next_large.resize(specials_.size());
    next = next_large.data();
  }
  for (std::size_t k = 0; k < specials_.size(); ++k) next[k] = text.find(specials_[k].text);
  while (!encoder.full()) {
    std::size_t at = std::string_view::npos, length = 0;  // leftmost, then longest
    std::int32_t id = 0;
    for (std::size_t k = 0; k < specials_.size(); ++k) {
      if (next[k] != std::string_view::npos && next[k] < pos) next[k] = text.find(specials_[k].text, pos);
      if (next[k] == std::string_view::npos) continue;
      if (next[k] < at || (next[k] == at && specials_[k].text.size() > length)) {
        at = next[k];
        length = specials_[k].text.size();
        id = specials_[k].id;
      }
    }
    encoder.segment(text.substr(pos, at == std::string_view::npos ? std::string_view::npos : at - pos));
    if (at == std::string_view::npos || encoder.full()) break;
    ids.push_back(id);
    pos = at + length;
  }
  ids.push_back(sep_id_);
  return ids;
}

// ---- Construction and loading ------------------------------------------------------------------

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options)
    : WordPieceTokenizer(std::move(vocab), options, "vocabulary", "[UNK]", 100, {}) {
  for (const char* name : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
    if (const auto it = ids_.find(std::string_view(name)); it != ids_.end()) specials_.push_back({name, it->second});
}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options,
                                       const std::string& source, const std::string& unk_token,
                                       std::size_t max_word_chars, std::vector<Special> specials)
    : vocab_(std::move(vocab)),
      options_(options),
      strip_accents_(options.strip_accents.value_or(options.lowercase)),
      max_word_chars_(max_word_chars),
      specials_(std::move(specials)) {
  if (options_.max_length < 2)
    fail(source, "max_length " + std::to_string(options_.max_length) + " leaves no room for [CLS] and [SEP]",
         "use a max_length of at least 2, e.g. 512");
  if (vocab_.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
    fail(source, "has more than 2^31-1 tokens", "use a BERT vocabulary");
  ids_.reserve(vocab_.size());
  for (std::size_t id = 0; id < vocab_.size(); ++id) {
    const std::string& token = vocab_[id];
    if (token.empty()) fail(source, "token " + std::to_string(id) + " is empty", "repair or re-fetch the vocabulary");
    if (!is_valid_utf8(token))
      fail(source, "token " + std::to_string(id) + " is not valid UTF-8", "repair or re-fetch the vocabulary");
    const auto [it, inserted] = ids_.emplace(token, static_cast<std::int32_t>(id));
    if (!inserted)
      fail(source,
           "token " + quote(token) + " appears twice (ids " + std::to_string(it->second) + " and " +
               std::to_string(id) + ")",
           "repair or re-fetch the vocabulary");
  }
  auto require = [&](const std::string& name) {
    const auto it = ids_.find(std::string_view(name));
    if (it == ids_.end())
      fail(source, "the vocabulary has no " + name + " token",
           "use the vocabulary of a BERT model (it has [PAD], [UNK], [CLS] and [SEP])");
    return it->second;
  };
  cls_id_ = require("[CLS]");
  sep_id_ = require("[SEP]");
  pad_id_ = require("[PAD]");
  unk_id_ = require(unk_token);
}

namespace {

constexpr const char* kRefetch = "re-fetch the model (scripts/fetch-model.sh) or repair the file";

std::string type_name(simdjson::dom::element_type type) {
  switch (type) {
    case simdjson::dom::element_type::ARRAY:
      return "an array";
    case simdjson::dom::element_type::OBJECT:
      return "an object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      return "a number";
    case simdjson::dom::element_type::STRING:
      return "a string";
    case simdjson::dom::element_type::BOOL:
      return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
  }
  return "a JSON value";
}

// simdjson rejects integers beyond 64 bits, which tokenizer_config.json files carry (model_max_length
// 1000000000000000019884624838656 means "no limit"). Rewrites such literals, outside strings, as
// floats ("...656.0") so they parse as doubles.
std::string widen_big_integers(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 16);
  bool in_string = false;
  for (std::size_t i = 0; i < json.size();) {
    const char c = json[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < json.size()) out += json[++i];
      else if (c == '"') in_string = false;
      ++i;
      continue;
    }
    if (c == '"') in_string = true;
    if (c < '0' || c > '9') {
      out += c;
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < json.size() && json[end] >= '0' && json[end] <= '9') ++end;
    out.append(json.substr(i, end - i));
    const bool fraction = end < json.size() && (json[end] == '.' || json[end] == 'e' || json[end] == 'E');
    if (end - i > 19 && !fraction) out += ".0";
    i = end;
  }
  return out;
}

// Typed access to a JSON document's fields with errors naming the file and the key.
class JsonFile {
 public:
  JsonFile(const std::filesystem::path& path, std::string_view what) : name_(path.string()) {
    const std::string data = read_file(path);
    auto error = parser_.parse(simdjson::padded_string(data)).get(root_);
    if (error == simdjson::NUMBER_ERROR)
      error = parser_.parse(simdjson::padded_string(widen_big_integers(data))).get(root_);
    if (error != simdjson::SUCCESS)
      fail(name_, std::string("is not valid JSON (") + simdjson::error_message(error) + ")", kRefetch);
    if (!root_.is_object())
      fail(name_, std::string("is not a JSON object (expected ") + std::string(what) + ")", kRefetch);
  }
  const std::string& name() const noexcept { return name_; }
  simdjson::dom::element root() const noexcept { return root_; }

  // The member `key` of `object`, or nullopt when absent.
  std::optional<simdjson::dom::element> member(simdjson::dom::element object, std::string_view key) const {
    simdjson::dom::element value;
    simdjson::dom::object fields;
    if (object.get_object().get(fields) != simdjson::SUCCESS) return std::nullopt;
    if (fields.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
    return value;
  }
  [[noreturn]] void wrong(std::string_view key, std::string_view expected, simdjson::dom::element value) const {
    fail(name_, "\"" + std::string(key) + "\" is " + type_name(value.type()) + ", expected " + std::string(expected),
         kRefetch);
  }
  std::optional<bool> boolean(simdjson::dom::element object, std::string_view key) const {
    const auto value = member(object, key);
    if (!value) return std::nullopt;
    if (!value->is_bool()) wrong(key, "true or false", *value);
    return value->get_bool().value_unsafe();
  }
  // strip_accents: absent, null, false or true.
  enum class Tristate { kAbsent, kNull, kFalse, kTrue };
  Tristate nullable_boolean(simdjson::dom::element object, std::string_view key) const {
    const auto value = member(object, key);
    if (!value) return Tristate::kAbsent;
    if (value->is_null()) return Tristate::kNull;
    if (!value->is_bool()) wrong(key, "true, false or null", *value);
    return value->get_bool().value_unsafe() ? Tristate::kTrue : Tristate::kFalse;
  }
  static void apply(Tristate value, std::optional<bool>& option) {
    if (value == Tristate::kNull) option.reset();
    if (value == Tristate::kFalse) option = false;
    if (value == Tristate::kTrue) option = true;
  }
  std::optional<std::string> string(simdjson::dom::element object, std::string_view key) const {
    const auto value = member(object, key);
    if (!value) return std::nullopt;
    if (!value->is_string()) wrong(key, "a string", *value);
    return std::string(value->get_string().value_unsafe());
  }
  // A non-negative integer, saturated at SIZE_MAX (model_max_length is often 1e30).
  std::optional<std::size_t> count(simdjson::dom::element object, std::string_view key) const {
    const auto value = member(object, key);
    if (!value) return std::nullopt;
    std::uint64_t u = 0;
    if (value->get_uint64().get(u) == simdjson::SUCCESS) return static_cast<std::size_t>(u);
    double d = 0;
    if (value->get_double().get(d) == simdjson::SUCCESS && d >= 1.8e19) return std::numeric_limits<std::size_t>::max();
    wrong(key, "a non-negative integer", *value);
  }

 private:
  std::string name_;
  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
};

struct Loaded {
  std::vector<std::string> vocab;
  std::string unk_token = "[UNK]";
  std::size_t max_word_chars = 100;
  bool has_specials = false;
  std::vector<std::pair<std::string, std::int32_t>> specials;
};

Loaded load_vocab_txt(const std::filesystem::path& path) {
  const std::string name = path.string();
  const std::string data = read_file(path);
  Loaded loaded;
  std::size_t pos = 0;
  while (pos < data.size()) {
    std::size_t end = data.find('\n', pos);
    if (end == std::string::npos) end = data.size();
    std::string_view line(data.data() + pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t number = loaded.vocab.size() + 1;
    if (line.empty()) fail(name, "line " + std::to_string(number) + " is empty", kRefetch);
    if (!is_valid_utf8(line)) fail(name, "line " + std::to_string(number) + " is not valid UTF-8", kRefetch);
    if (loaded.vocab.size() >= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
      fail(name, "has more than 2^31-1 tokens", kRefetch);
    loaded.vocab.emplace_back(line);
    pos = end + 1;
  }
  if (loaded.vocab.empty()) fail(name, "is empty", kRefetch);
  return loaded;
}

Loaded load_tokenizer_json(const JsonFile& file, WordPieceOptions& options) {
  const std::string& name = file.name();
  Loaded loaded;
  const auto model = file.member(file.root(), "model");
  if (!model) fail(name, "has no \"model\"", kRefetch);
  if (!model->is_object()) file.wrong("model", "an object", *model);
  const auto type = file.string(*model, "type");
  if (!type) fail(name, "model has no \"type\" (expected \"WordPiece\")", kRefetch);
  if (*type != "WordPiece")
    fail(name, "model.type is " + quote(*type) + ", not \"WordPiece\"",
         "use a BERT-architecture model with a WordPiece tokenizer");
  if (const auto unk = file.string(*model, "unk_token")) loaded.unk_token = *unk;
  if (const auto prefix = file.string(*model, "continuing_subword_prefix"); prefix && *prefix != kPrefix)
    fail(name, "model.continuing_subword_prefix is " + quote(*prefix) + ", not \"##\"",
         "use a BERT-architecture model with a WordPiece tokenizer");
  if (const auto chars = file.count(*model, "max_input_chars_per_word")) loaded.max_word_chars = *chars;

  const auto vocab = file.member(*model, "vocab");
  if (!vocab) fail(name, "model has no \"vocab\"", kRefetch);
  if (!vocab->is_object()) file.wrong("vocab", "an object of token: id", *vocab);
  simdjson::dom::object entries;
  if (vocab->get_object().get(entries) != simdjson::SUCCESS) file.wrong("vocab", "an object of token: id", *vocab);
  const std::size_t n = entries.size();
  if (n == 0) fail(name, "model.vocab is empty", kRefetch);
  loaded.vocab.resize(n);
  std::vector<bool> seen(n, false);
  for (const auto field : entries) {
    std::uint64_t id = 0;
    if (field.value.get_uint64().get(id) != simdjson::SUCCESS)
      fail(name, "model.vocab[" + quote(field.key) + "] is not a non-negative integer id", kRefetch);
    if (id >= n)
      fail(name,
           "model.vocab[" + quote(field.key) + "] = " + std::to_string(id) + " is out of range: the " +
               std::to_string(n) + " ids must be 0.." + std::to_string(n - 1) + " with no holes",
           kRefetch);
    if (seen[id])
      fail(name,
           "id " + std::to_string(id) + " is given to both " + quote(loaded.vocab[id]) + " and " + quote(field.key),
           kRefetch);
    seen[id] = true;
    loaded.vocab[id] = std::string(field.key);
  }

  if (const auto normalizer = file.member(file.root(), "normalizer")) {
    if (!normalizer->is_object()) file.wrong("normalizer", "a BertNormalizer object", *normalizer);
    const auto normalizer_type = file.string(*normalizer, "type");
    if (normalizer_type != "BertNormalizer")
      fail(name, "normalizer.type is " + quote(normalizer_type.value_or("")) + ", not \"BertNormalizer\"",
           "use a BERT-architecture model");
    if (file.boolean(*normalizer, "clean_text") == false)
      fail(name, "normalizer.clean_text is false, which this tokenizer does not support",
           "use a BERT-architecture model with the standard normalizer");
    if (const auto v = file.boolean(*normalizer, "lowercase")) options.lowercase = *v;
    JsonFile::apply(file.nullable_boolean(*normalizer, "strip_accents"), options.strip_accents);
    if (const auto v = file.boolean(*normalizer, "handle_chinese_chars")) options.split_cjk = *v;
  }
  if (const auto pre = file.member(file.root(), "pre_tokenizer")) {
    if (!pre->is_object()) file.wrong("pre_tokenizer", "a BertPreTokenizer object", *pre);
    const auto pre_type = file.string(*pre, "type");
    if (pre_type != "BertPreTokenizer")
      fail(name, "pre_tokenizer.type is " + quote(pre_type.value_or("")) + ", not \"BertPreTokenizer\"",
           "use a BERT-architecture model");
  }
  if (const auto added = file.member(file.root(), "added_tokens")) {
    if (!added->is_array()) file.wrong("added_tokens", "an array", *added);
    loaded.has_specials = true;
    simdjson::dom::array tokens;
    if (added->get_array().get(tokens) != simdjson::SUCCESS) file.wrong("added_tokens", "an array", *added);
    for (const simdjson::dom::element token : tokens) {
      if (!token.is_object()) file.wrong("added_tokens[]", "an object", token);
      const auto content = file.string(token, "content");
      const auto id = file.count(token, "id");
      if (!content || content->empty() || !id)
        fail(name, "an added_tokens entry lacks its \"content\" or \"id\"", kRefetch);
      if (*id >= n || loaded.vocab[*id] != *content)
        fail(name, "added token " + quote(*content) + " (id " + std::to_string(*id) + ") is not in model.vocab",
             "use a BERT-architecture model whose added tokens are in its vocabulary");
      for (const char* flag : {"single_word", "lstrip", "rstrip", "normalized"})
        if (file.boolean(token, flag) == true)
          fail(name, "added token " + quote(*content) + " sets \"" + flag + "\", which this tokenizer does not support",
               "use a BERT-architecture model with the standard special tokens");
      loaded.specials.emplace_back(*content, static_cast<std::int32_t>(*id));
    }
  }
  return loaded;
}

void load_tokenizer_config(const std::filesystem::path& path, WordPieceOptions& options, std::size_t& max_length) {
  const JsonFile file(path, "the tokenizer configuration");
  if (const auto v = file.boolean(file.root(), "do_lower_case")) options.lowercase = *v;
  JsonFile::apply(file.nullable_boolean(file.root(), "strip_accents"), options.strip_accents);
  if (const auto v = file.boolean(file.root(), "tokenize_chinese_chars")) options.split_cjk = *v;
  if (const auto v = file.count(file.root(), "model_max_length")) {
    if (*v < 2) fail(file.name(), "model_max_length " + std::to_string(*v) + " is below 2", kRefetch);
    max_length = *v;
  }
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::from_directory(const std::filesystem::path& dir, std::size_t max_length_cap) {
  if (max_length_cap < 2)
    fail(dir.string(), "max_length_cap " + std::to_string(max_length_cap) + " leaves no room for [CLS] and [SEP]",
         "pass a cap of at least 2, e.g. 512");
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    fail(dir.string(), "is not a directory", "fetch the model with scripts/fetch-model.sh, or pass its directory");
  WordPieceOptions options;
  Loaded loaded;
  std::string source;
  const auto json_path = dir / "tokenizer.json";
  if (std::filesystem::exists(json_path, ec)) {
    const JsonFile file(json_path, "a Hugging Face tokenizer.json");
    loaded = load_tokenizer_json(file, options);
    source = json_path.string();
  } else {
    const auto txt_path = dir / "vocab.txt";
    if (!std::filesystem::exists(txt_path, ec))
      fail(dir.string(), "has neither tokenizer.json nor vocab.txt",
           "fetch the model with scripts/fetch-model.sh, or pass the directory that holds its tokenizer files");
    loaded = load_vocab_txt(txt_path);
    source = txt_path.string();
  }
  std::size_t max_length = max_length_cap;
  if (const auto config = dir / "tokenizer_config.json"; std::filesystem::exists(config, ec))
    load_tokenizer_config(config, options, max_length);
  options.max_length = std::min(max_length, max_length_cap);

  std::vector<Special> specials;
  for (auto& [text, id] : loaded.specials) specials.push_back({std::move(text), id});
  WordPieceTokenizer tokenizer(std::move(loaded.vocab), options, source, loaded.unk_token, loaded.max_word_chars,
                               std::move(specials));
  if (!loaded.has_specials)
    for (const char* token : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
      if (const auto it = tokenizer.ids_.find(std::string_view(token)); it != tokenizer.ids_.end())
        tokenizer.specials_.push_back({token, it->second});
  return tokenizer;
}

}  // namespace engram::detail
