// engram_make_corpus: builds the realistic benchmark vectors of bench/corpus.hpp once per machine.
//
//   engram_make_corpus [--dumpavail FILE] [--threads N] [--limit N]
//
// Reads the package stanzas of `apt-cache dumpavail` (or FILE), keeps each package's English
// summary (the first line of Description:), deduplicates them case-insensitively, shuffles them
// with a fixed seed, holds out 2 000 as miss queries, derives 2 000 paraphrase-like queries
// from stored summaries, embeds everything with BertEmbedder (all-MiniLM-L6-v2 from
// ENGRAM_MODEL_DIR) and writes ${ENGRAM_BENCH_DATA:-~/.cache/engram/bench}/minilm-debian.bin,
// plus minilm-debian.txt (every text, one per line: "base|miss|para<TAB>source<TAB>text") for
// inspection. ~60 000 texts embed in 5–10 minutes on two cores. The output is never committed.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "bench_common.hpp"
#include "corpus.hpp"
#include "engram/embedders/bert_embedder.hpp"

namespace engram::bench {
namespace {

constexpr std::size_t kMiss = 2000;
constexpr std::size_t kPara = 2000;
constexpr std::size_t kParaSourceRange = 10000;

std::vector<std::string> summaries(std::istream& in) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Description: ", 0) != 0) continue;
    std::string text = line.substr(13);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    if (text.size() < 8) continue;
    std::string key = text;
    for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (seen.insert(key).second) out.push_back(std::move(text));
  }
  return out;
}

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  return w;
}

std::string join(const std::vector<std::string>& w) {
  std::string out;
  for (const auto& s : w) out += (out.empty() ? "" : " ") + s;
  return out;
}

// Synonym-like substitutions common in package summaries (both directions are tried).
constexpr std::pair<const char*, const char*> kSynonyms[] = {
    {"library", "lib"},
    {"utility", "tool"},
    {"program", "application"},
    {"files", "data"},
    {"support", "helpers"},
    {"development", "dev"},
    {"documentation", "docs"},
    {"module", "package"},
    {"tools", "utilities"},
    {"for", "for the"},
    {"and", "&"},
    {"simple", "basic"},
    {"fast", "quick"},
    {"interface", "API"},
    {"bindings", "wrapper"},
    {"server", "daemon"},
    {"client", "frontend"},
    {"plugin", "extension"},
    {"manager", "management"},
    {"graphical", "GUI"},
    {"command-line", "CLI"},
    {"package", "bundle"},
    {"implementation", "port"},
    {"shared", "dynamic"},
    {"headers", "include files"},
    {"transitional", "dummy"},
    {"game", "puzzle"},
    {"viewer", "browser"},
    {"editor", "writer"},
    {"Python", "Python 3"},
};

std::string paraphrase_text(const std::string& text, std::uint64_t seed) {
  std::uint64_t s = seed;
  auto w = words_of(text);
  for (int attempt = 0; attempt < 8; ++attempt) {
    const auto op = splitmix64(s) % 6;
    if (op == 0 && w.size() >= 4) {  // drop a word (not the first)
      w.erase(w.begin() + static_cast<std::ptrdiff_t>(1 + splitmix64(s) % (w.size() - 1)));
      return join(w);
    }
    if (op == 1 && w.size() >= 3) {  // swap two adjacent words
      const std::size_t i = splitmix64(s) % (w.size() - 1);
      std::swap(w[i], w[i + 1]);
      return join(w);
    }
    if (op == 2) {  // synonym-like substitution
      for (std::size_t i = 0; i < w.size(); ++i) {
        for (const auto& [a, b] : kSynonyms) {
          if (w[i] == a || w[i] == b) {
            w[i] = (w[i] == a) ? b : a;
            return join(w);
          }
        }
      }
    }
    if (op == 3 && w.size() >= 6) {  // truncation: the last word cut
      w.pop_back();
      return join(w);
    }
    if (op == 4) {  // an article added, lower case, a trailing full stop
      std::string t = "a " + join(w) + ".";
      for (char& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return t;
    }
    if (op == 5 && w.size() >= 2) {  // "X for Y" phrasing: "Y - X"-like reordering of halves
      const std::size_t cut = w.size() / 2;
      std::vector<std::string> r(w.begin() + static_cast<std::ptrdiff_t>(cut), w.end());
      r.emplace_back("-");
      r.insert(r.end(), w.begin(), w.begin() + static_cast<std::ptrdiff_t>(cut));
      return join(r);
    }
  }
  return join(w) + " package";
}

int run(int argc, char** argv) {
  std::string dump_file;
  unsigned threads = 2;
  std::size_t limit = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dumpavail" && i + 1 < argc) {
      dump_file = argv[++i];
    } else if (a == "--threads" && i + 1 < argc) {
      threads = static_cast<unsigned>(std::stoul(argv[++i]));
    } else if (a == "--limit" && i + 1 < argc) {
      limit = std::stoul(argv[++i]);
    } else {
      std::cerr << "usage: engram_make_corpus [--dumpavail FILE] [--threads N] [--limit N]\n";
      return 2;
    }
  }
  std::vector<std::string> texts;
  if (dump_file.empty()) {
    std::FILE* p = ::popen("apt-cache dumpavail", "r");  // NOLINT(cert-env33-c): a fixed command
    if (p == nullptr) throw std::runtime_error("cannot run apt-cache dumpavail");
    std::string all;
    char buf[1 << 16];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) all.append(buf, n);
    ::pclose(p);
    std::istringstream in(all);
    texts = summaries(in);
  } else {
    std::ifstream in(dump_file);
    texts = summaries(in);
  }
  // Seeded Fisher-Yates shuffle.
  std::uint64_t s = 20261126;
  for (std::size_t i = texts.size(); i > 1; --i) std::swap(texts[i - 1], texts[splitmix64(s) % i]);
  if (limit != 0 && texts.size() > limit) texts.resize(limit);
  if (texts.size() < kMiss + kParaSourceRange) throw std::runtime_error("too few package summaries");
  std::cerr << texts.size() << " distinct summaries\n";

  // texts = [miss..., base...]; queries = [miss..., para...] embedded with the base.
  std::vector<std::string> all(texts.begin(), texts.begin() + kMiss);
  const std::size_t n_base = texts.size() - kMiss;
  std::vector<std::uint32_t> sources(kPara);
  for (std::size_t i = 0; i < kPara; ++i) {
    sources[i] = static_cast<std::uint32_t>(splitmix64(s) % kParaSourceRange);
    all.push_back(paraphrase_text(texts[kMiss + sources[i]], splitmix64(s)));
  }
  all.insert(all.end(), texts.begin() + kMiss, texts.end());

  const auto model_dir = default_model_dir("all-MiniLM-L6-v2");
  const BertEmbedder embedder(model_dir);
  const std::size_t d = embedder.dim();
  std::vector<float> vectors(all.size() * d);
  constexpr std::size_t kBatch = 32;
  std::atomic<std::size_t> next{0}, done{0};
  const auto started = Clock::now();
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (std::size_t b; (b = next.fetch_add(kBatch)) < all.size();) {
        const std::size_t e = std::min(all.size(), b + kBatch);
        const auto out = embedder.embed_batch(std::span<const std::string>(all.data() + b, e - b));
        for (std::size_t i = 0; i < out.size(); ++i)
          std::copy(out[i].begin(), out[i].end(), vectors.begin() + (b + i) * d);
        const std::size_t n = done.fetch_add(e - b) + (e - b);
        if (n / 2048 != (n - (e - b)) / 2048) {
          const double sec = std::chrono::duration<double>(Clock::now() - started).count();
          std::fprintf(stderr, "%zu / %zu embedded (%.0f texts/s)\n", n, all.size(), static_cast<double>(n) / sec);
        }
      }
    });
  }
  for (auto& w : workers) w.join();

  Corpus c;
  c.d = d;
  c.n_base = n_base;
  c.miss.assign(vectors.begin(), vectors.begin() + static_cast<std::ptrdiff_t>(kMiss * d));
  c.para.assign(vectors.begin() + static_cast<std::ptrdiff_t>(kMiss * d),
                vectors.begin() + static_cast<std::ptrdiff_t>((kMiss + kPara) * d));
  c.base.assign(vectors.begin() + static_cast<std::ptrdiff_t>((kMiss + kPara) * d), vectors.end());
  c.para_source = sources;
  std::filesystem::create_directories(corpus_dir());
  write_corpus(corpus_path(), c);
  std::ofstream txt(corpus_dir() / "minilm-debian.txt");
  for (std::size_t i = 0; i < all.size(); ++i) {
    const bool miss = i < kMiss, para = !miss && i < kMiss + kPara;
    txt << (miss   ? "miss"
            : para ? "para"
                   : "base")
        << '\t' << (para ? std::to_string(sources[i - kMiss]) : "-") << '\t' << all[i] << '\n';
  }
  std::cerr << "wrote " << corpus_path() << ": d " << d << ", " << n_base << " base, " << kMiss << " miss, " << kPara
            << " paraphrase vectors\n";
  return 0;
}

}  // namespace
}  // namespace engram::bench

int main(int argc, char** argv) {
  try {
    return engram::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "engram_make_corpus: " << e.what() << '\n';
    return 1;
  }
}
