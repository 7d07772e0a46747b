#pragma once
// Deterministic data for the index tests: seeded unit vectors and noisy copies of them.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace engram::test {

inline void normalize(std::span<float> v) {
  double n = 0;
  for (float x : v) n += static_cast<double>(x) * x;
  const float inv = n > 0 ? static_cast<float>(1.0 / std::sqrt(n)) : 0.0f;
  for (float& x : v) x *= inv;
}

// n unit vectors of dimension d, row-major.
inline std::vector<float> random_unit_vectors(std::size_t n, std::size_t d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> out(n * d);
  for (auto& x : out) x = g(rng);
  for (std::size_t i = 0; i < n; ++i) normalize(std::span<float>(out).subspan(i * d, d));
  return out;
}

// normalize(v + sigma * noise): sigma = 0.3 / sqrt(d) * ... gives cosine ~ 1 / sqrt(1 + d s^2).
inline std::vector<float> noisy_copy(std::span<const float> v, float sigma, std::mt19937_64& rng) {
  std::normal_distribution<float> g(0.0f, sigma);
  std::vector<float> out(v.begin(), v.end());
  for (auto& x : out) x += g(rng);
  normalize(out);
  return out;
}

inline double dot(std::span<const float> a, std::span<const float> b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

}  // namespace engram::test
