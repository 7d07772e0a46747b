#include "engram/stores/store_uri.hpp"

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "engram/errors.hpp"

namespace engram {

namespace {

[[noreturn]] void bad(std::string_view uri, const std::string& why) {
  // The text may hold a password: the user info is masked, and only a bounded,
  // printable-escaped form of the rest is quoted.
  std::string masked(uri);
  if (const auto scheme_end = masked.find("://"); scheme_end != std::string::npos) {
    const std::size_t start = scheme_end + 3;
    const std::size_t end = masked.find_first_of("/?#", start);
    const std::size_t at = masked.rfind('@', end == std::string::npos ? std::string::npos : end);
    if (at != std::string::npos && at >= start) masked.replace(start, at - start, "***");
  }
  std::string shown;
  for (char c : std::string_view(masked).substr(0, 200)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      shown += "\\x";
      shown += kHex[u >> 4];
      shown += kHex[u & 0x0f];
    } else {
      shown += c;
    }
  }
  if (masked.size() > 200) shown += "...";
  throw InvalidArgument(
      "invalid store URI '" + shown + "': " + why +
      ". Remediation: use sqlite:PATH, redis://[:password@]host[:port][/db][?prefix=P] or dict:[NAME].");
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view uri, std::string_view text, const char* what) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) bad(uri, std::string("truncated %-escape in the ") + what);
    const int hi = hex_digit(text[i + 1]);
    const int lo = hex_digit(text[i + 2]);
    if (hi < 0 || lo < 0) bad(uri, std::string("malformed %-escape in the ") + what);
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// A decimal number in [lo, hi], digits only (no sign, no spaces, no suffix).
int strict_int(std::string_view uri, std::string_view text, int lo, int hi, const char* what) {
  if (text.empty()) bad(uri, std::string("empty ") + what);
  for (char c : text)
    if (c < '0' || c > '9') bad(uri, std::string(what) + " '" + std::string(text) + "' is not a decimal number");
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < lo || value > hi)
    bad(uri, std::string(what) + " '" + std::string(text) + "' is outside " + std::to_string(lo) + ".." +
                 std::to_string(hi));
  return static_cast<int>(value);
}

StoreUri parse_redis(std::string_view uri, std::string_view rest) {
  StoreUri out;
  out.kind = StoreKind::kRedis;
  std::string_view query;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.find('#') != std::string_view::npos) bad(uri, "a fragment ('#') is not allowed");
  std::string_view authority = rest;
  std::string_view path;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      // "redis://secret@host" is how many clients spell a password alone.
      out.password = percent_decode(uri, userinfo, "password");
    } else {
      out.username = percent_decode(uri, userinfo.substr(0, colon), "user name");
      out.password = percent_decode(uri, userinfo.substr(colon + 1), "password");
    }
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) bad(uri, "unterminated '[' in the host");
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') bad(uri, "unexpected text after the bracketed host");
      port_text = after.substr(1);
      if (port_text.empty()) bad(uri, "empty port");
    }
  } else {
    const auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) bad(uri, "empty port");
    }
  }
  if (out.host.empty()) bad(uri, "no host");
  for (char c : out.host)
    if (static_cast<unsigned char>(c) <= 0x20 || c == '/' || c == '@' || c == '[' || c == ']' || c == '%')
      bad(uri, "invalid character in the host");
  if (!port_text.empty()) out.port = strict_int(uri, port_text, 1, 65535, "port");
  if (!path.empty()) out.database = strict_int(uri, path, 0, 1 << 30, "database number");
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (key == "prefix") {
      out.prefix = percent_decode(uri, value, "prefix");
      if (out.prefix.empty()) bad(uri, "empty prefix");
      if (out.prefix.find_first_of("{}") != std::string::npos) bad(uri, "the prefix must not contain '{' or '}'");
    } else if (key == "db") {
      out.database = strict_int(uri, value, 0, 1 << 30, "database number");
    } else {
      bad(uri, "unknown parameter '" + std::string(key) + "' (known: prefix, db)");
    }
  }
  return out;
}

}  // namespace

StoreUri parse_store_uri(std::string_view uri) {
  if (uri.empty()) bad(uri, "empty");
  if (uri.find('\0') != std::string_view::npos) bad(uri, "contains a NUL byte");
  // A scheme is letters, digits, '+', '-', '.' before the first ':' (starting with a letter).
  std::string_view scheme;
  if (const auto colon = uri.find(':'); colon != std::string_view::npos && colon > 0) {
    const std::string_view candidate = uri.substr(0, colon);
    bool is_scheme = (candidate.front() >= 'a' && candidate.front() <= 'z') ||
                     (candidate.front() >= 'A' && candidate.front() <= 'Z');
    for (char c : candidate) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
                      c == '-' || c == '.';
      is_scheme = is_scheme && ok;
    }
    // "C:" style single letters and names with a '/' or '.' before the colon read as paths.
    if (is_scheme && candidate.size() > 1 && candidate.find('.') == std::string_view::npos) scheme = candidate;
  }
  const std::string_view rest = scheme.empty() ? uri : uri.substr(scheme.size() + 1);
  if (scheme.empty()) {
    StoreUri out;
    out.path = std::string(uri);
    return out;
  }
  if (scheme == "sqlite") {
    std::string_view path = rest;
    if (path.substr(0, 2) == "//") path.remove_prefix(2);
    if (path.empty()) bad(uri, "no file path after 'sqlite:'");
    StoreUri out;
    out.path = std::string(path);
    return out;
  }
  if (scheme == "redis") {
    if (rest.substr(0, 2) != "//") bad(uri, "redis URIs start with 'redis://'");
    return parse_redis(uri, rest.substr(2));
  }
  if (scheme == "dict") {
    StoreUri out;
    out.kind = StoreKind::kDict;
    out.path = std::string(rest.substr(0, 2) == "//" ? rest.substr(2) : rest);
    return out;
  }
  bad(uri, "unknown scheme '" + std::string(scheme) + "' (a file path containing ':' can be written sqlite:PATH)");
}

std::string describe(const StoreUri& uri) {
  switch (uri.kind) {
    case StoreKind::kSqlite:
      return "sqlite:" + uri.path;
    case StoreKind::kDict:
      return "dict:" + uri.path;
    case StoreKind::kRedis:
      break;
  }
  const bool v6 = uri.host.find(':') != std::string::npos;
  std::string out = "redis://";
  if (!uri.username.empty()) out += uri.username + "@";
  out += (v6 ? "[" + uri.host + "]" : uri.host) + ":" + std::to_string(uri.port) + "/" + std::to_string(uri.database);
  out += "?prefix=" + uri.prefix;
  return out;
}

}  // namespace engram
