// Query normalization (see normalize.hpp). ASCII text never touches utf8proc.
#include "engram/normalize.hpp"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "engram/errors.hpp"

namespace engram {
namespace {

bool is_ascii(std::string_view text) noexcept {
  for (unsigned char c : text)
    if (c >= 0x80) return false;
  return true;
}

bool is_ascii_space(unsigned char c) noexcept { return c == ' ' || (c >= '\t' && c <= '\r'); }

// The Unicode White_Space property.
bool is_unicode_space(utf8proc_int32_t cp) noexcept {
  return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

void normalize_ascii(std::string_view text, std::string& out) {
  out.clear();
  out.reserve(text.size());
  bool pending_space = false;
  for (unsigned char c : text) {
    if (is_ascii_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c));
  }
}

std::string normalize_unicode(std::string_view text, const NormalizeOptions& options) {
  int flags = UTF8PROC_CASEFOLD | UTF8PROC_STABLE;
  if (options.nfkc) flags |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t len =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                   &mapped, static_cast<utf8proc_option_t>(flags));
  if (len < 0) {
    throw InvalidArgument(std::string("query normalization failed: ") + utf8proc_errmsg(len) +
                          ". Remediation: pass valid UTF-8 text.");
  }
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(mapped, &std::free);

  std::string out;
  out.reserve(static_cast<std::size_t>(len));
  bool pending_space = false;
  utf8proc_ssize_t pos = 0;
  while (pos < len) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t step = utf8proc_iterate(mapped + pos, len - pos, &cp);
    if (step <= 0) break;  // cannot happen: utf8proc_map produced valid UTF-8
    if (is_unicode_space(cp)) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out.push_back(' ');
      pending_space = false;
      out.append(reinterpret_cast<const char*>(mapped + pos), static_cast<std::size_t>(step));
    }
    pos += step;
  }
  return out;
}

}  // namespace

bool is_valid_utf8(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t extra;
    std::uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1fu;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0fu;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07u;
    } else return false;
    if (n - i <= extra) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3fu);
    }
    static constexpr std::uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

void normalize_query_into(std::string_view text, std::string& out, const NormalizeOptions& options) {
  if (is_ascii(text)) return normalize_ascii(text, out);  // NFKC and case folding agree on ASCII
  if (!is_valid_utf8(text)) {
    throw InvalidArgument(
        "query is not valid UTF-8. Remediation: decode or re-encode the text as UTF-8 before caching it.");
  }
  out = normalize_unicode(text, options);
}

std::string normalize_query(std::string_view text, const NormalizeOptions& options) {
  std::string out;
  normalize_query_into(text, out, options);
  return out;
}

}  // namespace engram
