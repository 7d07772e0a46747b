#pragma once
// AnyEmbedder: one type for every embedder, chosen at run time (a command-line flag, a config
// file). It models Embedder, BatchEmbedder and RecommendsThreshold, so
// SemanticCache<S, AnyEmbedder> works with whichever embedder was picked. The wrapped embedder
// is shared between copies (embedders are immutable and thread-safe by contract); the cost is
// one virtual call per embed.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engram/embedder.hpp"
#include "engram/options.hpp"

namespace engram {

class AnyEmbedder {
 public:
  template <Embedder E>
  explicit AnyEmbedder(E embedder) : impl_(std::make_shared<const Model<E>>(std::move(embedder))) {}

  std::size_t dim() const { return impl_->dim(); }
  std::string fingerprint() const { return impl_->fingerprint(); }
  std::vector<float> embed(std::string_view text) const { return impl_->embed(text); }
  // The wrapped embedder's batch call when it has one, else one embed() per text.
  std::vector<std::vector<float>> embed_batch(std::span<const std::string> texts) const {
    return impl_->embed_batch(texts);
  }
  // The wrapped embedder's recommendation, else kDefaultSimilarityThreshold.
  double recommended_threshold() const { return impl_->recommended_threshold(); }

 private:
  struct Concept {
    Concept() = default;
    Concept(const Concept&) = delete;
    Concept& operator=(const Concept&) = delete;
    virtual ~Concept() = default;
    virtual std::size_t dim() const = 0;
    virtual std::string fingerprint() const = 0;
    virtual std::vector<float> embed(std::string_view text) const = 0;
    virtual std::vector<std::vector<float>> embed_batch(std::span<const std::string> texts) const = 0;
    virtual double recommended_threshold() const = 0;
  };

  template <Embedder E>
  struct Model final : Concept {
    explicit Model(E e) : embedder(std::move(e)) {}
    std::size_t dim() const override { return static_cast<std::size_t>(embedder.dim()); }
    std::string fingerprint() const override { return embedder.fingerprint(); }
    std::vector<float> embed(std::string_view text) const override { return embedder.embed(text); }
    std::vector<std::vector<float>> embed_batch(std::span<const std::string> texts) const override {
      if constexpr (BatchEmbedder<E>) {
        return embedder.embed_batch(texts);
      } else {
        std::vector<std::vector<float>> out;
        out.reserve(texts.size());
        for (const std::string& text : texts) out.push_back(embedder.embed(text));
        return out;
      }
    }
    double recommended_threshold() const override {
      if constexpr (RecommendsThreshold<E>) {
        return static_cast<double>(embedder.recommended_threshold());
      } else {
        return kDefaultSimilarityThreshold;
      }
    }
    E embedder;
  };

  std::shared_ptr<const Concept> impl_;
};

static_assert(BatchEmbedder<AnyEmbedder> && RecommendsThreshold<AnyEmbedder>);

}  // namespace engram
