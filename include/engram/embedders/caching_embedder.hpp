#pragma once
// CachingEmbedder<E>: wraps any Embedder with a bounded LRU cache of normalized text -> vector,
// so a text embedded once (a repeated miss, the put after its get) is not embedded again.
//
//   engram::CachingEmbedder cached(engram::HttpEmbedder(options), /*max_bytes=*/64 << 20);
//   engram::SemanticCache cache(engram::SqliteStore("c.db"), std::move(cached));
//
// Contracts:
// - Keys are engram::normalize_query(text, normalize) (case-folded, whitespace-collapsed, NFKC
//   when asked). On a miss the wrapped embedder embeds the *normalized* text, so the vector
//   for a text never depends on which spelling of it was seen first. Use it with embedders for
//   which case and spacing do not matter (uncased BERT models, most embedding services).
// - dim() and fingerprint() are the wrapped embedder's: caching changes no stored identity.
// - The cache is bounded by max_bytes, counting each entry as its key, its vector and a fixed
//   per-entry overhead; the least recently used entries are evicted first. An entry larger
//   than max_bytes (or max_bytes == 0) is never kept. Vectors whose size is not dim() are
//   returned but not kept (the caller reports them).
// - Errors from the wrapped embedder (e.g. EmbedderUnavailable) propagate and nothing is
//   cached. Invalid UTF-8 throws InvalidArgument (from normalize_query).
// - embed_batch() embeds only the texts not in the cache, with one inner embed_batch() call
//   when E has one (otherwise one embed() per missing text); identical texts in one batch are
//   embedded once.
//
// Thread safety: every const member function may be called from several threads at once. The
// internal mutex is never held while the wrapped embedder runs, so two threads missing the
// same text at the same moment may both embed it (the vectors are equal; one is kept).
// Copies (when E is copyable) share one cache and its counters, so a copy kept outside a
// SemanticCache reads the stats() of the one moved into it. A moved-from CachingEmbedder may
// only be destroyed or assigned to.

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engram/embedder.hpp"
#include "engram/errors.hpp"
#include "engram/normalize.hpp"
#include "engram/options.hpp"

namespace engram {

struct CachingEmbedderStats {
  std::uint64_t hits = 0;       // texts answered from the cache
  std::uint64_t misses = 0;     // texts that had to be embedded by the wrapped embedder
  std::uint64_t evictions = 0;  // entries dropped to stay under max_bytes
  std::size_t entries = 0;
  std::size_t bytes = 0;  // accounted bytes of the entries held (<= max_bytes)
  std::size_t max_bytes = 0;
};

template <Embedder E>
class CachingEmbedder {
 public:
  // The accounted cost of one entry besides its key and vector (list and hash nodes).
  static constexpr std::size_t kEntryOverheadBytes = 96;

  explicit CachingEmbedder(E inner, std::size_t max_bytes = std::size_t{64} << 20, NormalizeOptions normalize = {})
      : inner_(std::move(inner)), state_(std::make_shared<State>()), normalize_(normalize) {
    state_->max_bytes = max_bytes;
  }

  std::size_t dim() const { return static_cast<std::size_t>(inner_.dim()); }
  std::string fingerprint() const { return std::string(inner_.fingerprint()); }

  std::vector<float> embed(std::string_view text) const {
    std::string key = normalize_query(text, normalize_);
    {
      std::lock_guard lock(state_->mu);
      if (auto found = lookup_locked(key)) {
        ++state_->hits;
        return *found;
      }
      ++state_->misses;
    }
    std::vector<float> v = inner_.embed(key);
    insert(std::move(key), v);
    return v;
  }

  std::vector<std::vector<float>> embed_batch(std::span<const std::string> texts) const {
    std::vector<std::vector<float>> out(texts.size());
    std::vector<std::string> keys;
    keys.reserve(texts.size());
    for (const std::string& t : texts) keys.push_back(normalize_query(t, normalize_));

    // Texts to embed (each distinct key once) and, per input, which of them it waits for.
    std::vector<std::string> todo;
    std::vector<std::size_t> waits(texts.size(), kNone);
    {
      std::unordered_map<std::string_view, std::size_t> pending;
      std::lock_guard lock(state_->mu);
      for (std::size_t i = 0; i < keys.size(); ++i) {
        if (auto found = lookup_locked(keys[i])) {
          ++state_->hits;
          out[i] = *found;
          continue;
        }
        ++state_->misses;
        auto [it, fresh] = pending.emplace(keys[i], todo.size());
        if (fresh) todo.push_back(keys[i]);
        waits[i] = it->second;
      }
    }
    if (todo.empty()) return out;

    std::vector<std::vector<float>> fresh;
    if constexpr (BatchEmbedder<E>) {
      fresh = inner_.embed_batch(std::span<const std::string>(todo));
      if (fresh.size() != todo.size()) {
        throw EmbedderUnavailable("the wrapped embedder (" + fingerprint() + ") returned " +
                                  std::to_string(fresh.size()) + " vectors for " + std::to_string(todo.size()) +
                                  " texts. Remediation: fix the embedder's embed_batch.");
      }
    } else {
      fresh.reserve(todo.size());
      for (const std::string& t : todo) fresh.push_back(inner_.embed(t));
    }
    for (std::size_t i = 0; i < texts.size(); ++i) {
      if (waits[i] != kNone) out[i] = fresh[waits[i]];
    }
    for (std::size_t j = 0; j < todo.size(); ++j) insert(std::move(todo[j]), fresh[j]);
    return out;
  }

  CachingEmbedderStats stats() const {
    std::lock_guard lock(state_->mu);
    return CachingEmbedderStats{state_->hits,           state_->misses, state_->evictions,
                                state_->entries.size(), state_->bytes,  state_->max_bytes};
  }

  // Drops every cached vector (the counters are kept).
  void clear() const {
    std::lock_guard lock(state_->mu);
    state_->index.clear();
    state_->entries.clear();
    state_->bytes = 0;
  }

  const E& inner() const noexcept { return inner_; }

 private:
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  struct Entry {
    std::string key;
    std::vector<float> vector;
    std::size_t bytes = 0;
  };
  struct State {
    std::mutex mu;
    std::list<Entry> entries;                                                         // most recently used first
    std::unordered_map<std::string_view, typename std::list<Entry>::iterator> index;  // keys live in `entries`
    std::size_t bytes = 0, max_bytes = 0;
    std::uint64_t hits = 0, misses = 0, evictions = 0;
  };

  // Returns the cached vector and marks it most recently used; requires state_->mu.
  const std::vector<float>* lookup_locked(std::string_view key) const {
    auto it = state_->index.find(key);
    if (it == state_->index.end()) return nullptr;
    state_->entries.splice(state_->entries.begin(), state_->entries, it->second);
    return &it->second->vector;
  }

  void insert(std::string key, const std::vector<float>& vector) const {
    if (vector.size() != dim()) return;
    const std::size_t cost = key.size() + vector.size() * sizeof(float) + kEntryOverheadBytes;
    std::lock_guard lock(state_->mu);
    if (cost > state_->max_bytes) return;
    if (auto it = state_->index.find(key); it != state_->index.end()) {  // another thread was first
      state_->entries.splice(state_->entries.begin(), state_->entries, it->second);
      return;
    }
    while (state_->bytes + cost > state_->max_bytes && !state_->entries.empty()) {
      Entry& last = state_->entries.back();
      state_->bytes -= last.bytes;
      state_->index.erase(last.key);
      state_->entries.pop_back();
      ++state_->evictions;
    }
    state_->entries.push_front(Entry{std::move(key), vector, cost});
    state_->index.emplace(state_->entries.front().key, state_->entries.begin());
    state_->bytes += cost;
  }

  E inner_;
  std::shared_ptr<State> state_;  // shared by copies
  NormalizeOptions normalize_;
};

}  // namespace engram
