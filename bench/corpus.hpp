#pragma once
// Realistic benchmark vectors: all-MiniLM-L6-v2 embeddings of the English package summaries of
// the local Debian archive (`apt-cache dumpavail`), made once by engram_make_corpus
// (bench/make_corpus.cpp) and cached outside the repository:
//
//   ${ENGRAM_BENCH_DATA:-$HOME/.cache/engram/bench}/minilm-debian.bin
//
// File layout (little-endian): "ENGRAMC1", u32 d, u32 n_base, u32 n_miss, u32 n_para, then
// f32 base[n_base][d], f32 miss[n_miss][d], f32 para[n_para][d], u32 para_source[n_para].
//   base  distinct summaries (deduplicated case-insensitively), in a seeded random order: the
//         stored entries. Sets of N rows take the first N.
//   miss  held-out summaries (never stored): W3-like queries.
//   para  a perturbed copy of base[para_source[i]] (one word dropped, two words swapped, a
//         synonym-like substitution, the last word cut, or articles/case changed): W2-like
//         queries. Sources are drawn from the first 10 000 base rows, so every N ≥ 10k holds
//         all of them.
// Sets larger than n_base are grown by synthesize(): see there.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace engram::bench {

inline std::filesystem::path corpus_dir() {
  const char* dir = std::getenv("ENGRAM_BENCH_DATA");  // NOLINT(concurrency-mt-unsafe): read once
  if (dir != nullptr && *dir != '\0') return dir;
  const char* home = std::getenv("HOME");  // NOLINT(concurrency-mt-unsafe): read once
  return std::filesystem::path(home != nullptr ? home : "/tmp") / ".cache/engram/bench";
}

inline std::filesystem::path corpus_path() { return corpus_dir() / "minilm-debian.bin"; }

struct Corpus {
  std::size_t d = 0;
  std::size_t n_base = 0;
  std::vector<float> base, miss, para;
  std::vector<std::uint32_t> para_source;
  std::size_t n_miss() const { return d == 0 ? 0 : miss.size() / d; }
  std::size_t n_para() const { return d == 0 ? 0 : para.size() / d; }
};

inline void write_corpus(const std::filesystem::path& path, const Corpus& c) {
  const auto tmp = path.string() + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + tmp);
  const std::uint32_t head[4] = {static_cast<std::uint32_t>(c.d), static_cast<std::uint32_t>(c.n_base),
                                 static_cast<std::uint32_t>(c.n_miss()), static_cast<std::uint32_t>(c.n_para())};
  bool ok = std::fwrite("ENGRAMC1", 1, 8, f) == 8 && std::fwrite(head, 4, 4, f) == 4;
  for (const auto* v : {&c.base, &c.miss, &c.para}) ok = ok && std::fwrite(v->data(), 4, v->size(), f) == v->size();
  ok = ok && std::fwrite(c.para_source.data(), 4, c.para_source.size(), f) == c.para_source.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) throw std::runtime_error("short write to " + tmp);
  std::filesystem::rename(tmp, path);
}

// The cached corpus, or nullopt (with a note on stderr once) when engram_make_corpus has not
// been run on this machine.
inline const std::optional<Corpus>& load_corpus() {
  static const std::optional<Corpus> corpus = []() -> std::optional<Corpus> {
    const auto path = corpus_path();
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
      std::fprintf(stderr, "note: %s missing; run engram_make_corpus for the realistic-data rows\n", path.c_str());
      return std::nullopt;
    }
    char magic[8];
    std::uint32_t head[4];
    Corpus c;
    bool ok =
        std::fread(magic, 1, 8, f) == 8 && std::memcmp(magic, "ENGRAMC1", 8) == 0 && std::fread(head, 4, 4, f) == 4;
    if (ok) {
      c.d = head[0];
      c.n_base = head[1];
      c.base.resize(std::size_t{head[1]} * c.d);
      c.miss.resize(std::size_t{head[2]} * c.d);
      c.para.resize(std::size_t{head[3]} * c.d);
      c.para_source.resize(head[3]);
      for (auto* v : {&c.base, &c.miss, &c.para}) ok = ok && std::fread(v->data(), 4, v->size(), f) == v->size();
      ok = ok && std::fread(c.para_source.data(), 4, c.para_source.size(), f) == c.para_source.size();
    }
    std::fclose(f);
    if (!ok) {
      std::fprintf(stderr, "note: %s is truncated or not a corpus file; realistic rows skipped\n", path.c_str());
      return std::nullopt;
    }
    return c;
  }();
  return corpus;
}

// n stored vectors: the first min(n, n_base) real embeddings, then synthetic ones. Synthetic row
// j (seeded by j) is normalize(Σ w_i·base[r_i] + ε): 2 or 3 distinct real rows r_i drawn
// uniformly from all n_base, weights w uniform on the simplex (Dirichlet(1,…,1)), and ε
// isotropic Gaussian noise of expected norm 0.1. Such points fill the regions real summaries
// occupy (topics, phrasing) instead of the whole sphere; they are near their parents (cosine
// ~0.7–0.95), not copies of them.
inline std::vector<float> synthesize(const Corpus& c, std::size_t n) {
  const std::size_t d = c.d;
  std::vector<float> out(n * d);
  const std::size_t real = std::min(n, c.n_base);
  std::memcpy(out.data(), c.base.data(), real * d * sizeof(float));
  const float sigma = 0.1f / std::sqrt(static_cast<float>(d));
  for (std::size_t j = real; j < n; ++j) {
    std::uint64_t s = 0x5eed0000ull + j;
    Gaussian g(splitmix64(s));
    const int parents = 2 + static_cast<int>(splitmix64(s) % 2);
    std::size_t rows[3];
    double w[3], wsum = 0;
    for (int p = 0; p < parents; ++p) {
      bool dup = true;
      while (dup) {
        rows[p] = splitmix64(s) % c.n_base;
        dup = false;
        for (int q = 0; q < p; ++q) dup = dup || rows[q] == rows[p];
      }
      w[p] = -std::log((static_cast<double>(splitmix64(s) >> 11) + 1.0) * 0x1.0p-53);  // Exp(1)
      wsum += w[p];
    }
    float* row = out.data() + j * d;
    for (std::size_t k = 0; k < d; ++k) row[k] = sigma * g.next();
    for (int p = 0; p < parents; ++p) {
      const float wp = static_cast<float>(w[p] / wsum);
      const float* src = c.base.data() + rows[p] * d;
      for (std::size_t k = 0; k < d; ++k) row[k] += wp * src[k];
    }
    normalize(std::span<float>(row, d));
  }
  return out;
}

}  // namespace engram::bench
