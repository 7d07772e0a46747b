#pragma once
// The deterministic embedding the fake embedding server answers with, shared by the server and
// the tests that check its vectors: the text is reduced to lower-case ASCII letters and digits
// separated by single spaces (so "How do I reset my password?" and "how do i reset my
// password" get the same vector), hashed (FNV-1a 64), and expanded by splitmix64 into `dim`
// components in [-1, 1], then L2-normalized. Floats, printed with %.9g, round-trip exactly.

#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace engram::testing {

inline std::string fake_key(std::string_view text) {
  std::string out;
  bool space = false;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80) {
      if (space && !out.empty()) out += ' ';
      space = false;
      out += static_cast<char>(std::tolower(u));
    } else {
      space = true;
    }
  }
  return out;
}

inline std::vector<float> fake_embedding(std::string_view text, std::size_t dim) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : fake_key(text)) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  std::vector<float> v(dim);
  double norm = 0;
  for (std::size_t i = 0; i < dim; ++i) {
    h += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = h;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    v[i] = static_cast<float>(static_cast<double>(z >> 11) / 4503599627370496.0 - 1.0);  // [-1, 1)
    norm += static_cast<double>(v[i]) * v[i];
  }
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (float& x : v) x = static_cast<float>(x / norm);
  }
  return v;
}

}  // namespace engram::testing
