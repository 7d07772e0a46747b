#include "engram/embedders/bert_embedder.hpp"

#include <cblas.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <string_view>

#include "bert_model.hpp"
#include "engram/errors.hpp"
#include "engram/options.hpp"
#include "wordpiece.hpp"

namespace engram {
namespace {

// Texts per forward pass are grouped until this many tokens, bounding scratch memory
// (the feed-forward activations are tokens x intermediate_size floats).
constexpr std::size_t kMaxTokensPerPass = 4096;

std::string sha256_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw InvalidArgument("model weights " + file.string() +
                          ": cannot be opened. Remediation: fetch the model with scripts/fetch-model.sh.");
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 15];
  }
  return hex;
}

void configure_blas_threads() {
  static std::once_flag once;
  std::call_once(once, [] {
    int threads = 1;
    // NOLINTNEXTLINE(concurrency-mt-unsafe): read once (call_once); engram never sets the environment
    if (const char* env = std::getenv("ENGRAM_BLAS_THREADS"); env != nullptr && *env != '\0') {
      char* end = nullptr;
      const long n = std::strtol(env, &end, 10);
      if (*end == '\0' && n > 0 && n <= 1024) threads = static_cast<int>(n);
    }
    openblas_set_num_threads(threads);
  });
}

// Thresholds measured on bench/quality/pairs.jsonl (docs/answer-quality.md explains the choice).
struct CalibratedModel {
  std::string_view name;
  std::string_view sha256_prefix;  // of model.safetensors as published
  std::size_t layers;
  std::size_t hidden;
  BertPooling pooling;
  double threshold;
};
constexpr std::array<CalibratedModel, 1> kCalibratedModels{{
    {"all-minilm-l6-v2", "53aa51172d142c89", 6, 384, BertPooling::kMean, 0.72},
}};

std::optional<double> calibrated_threshold(const BertModelInfo& info) {
  std::string name = info.name.substr(info.name.rfind('/') == std::string::npos ? 0 : info.name.rfind('/') + 1);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const CalibratedModel& m : kCalibratedModels) {
    if (info.weights_sha256.starts_with(m.sha256_prefix)) return m.threshold;
    if (name == m.name && info.num_layers == m.layers && info.hidden_size == m.hidden && info.pooling == m.pooling &&
        info.normalize) {
      return m.threshold;
    }
  }
  return std::nullopt;
}

}  // namespace

class BertEmbedder::Impl {
 public:
  Impl(const std::filesystem::path& dir, BertOptions options) : options_(std::move(options)) {
    if (!std::filesystem::is_directory(dir)) {
      throw InvalidArgument("model directory " + dir.string() +
                            " does not exist. Remediation: run scripts/fetch-model.sh (it installs "
                            "all-MiniLM-L6-v2 under ${ENGRAM_MODEL_DIR:-$HOME/.cache/engram/models}) or pass "
                            "the directory of a sentence-transformers BERT model.");
    }
    configure_blas_threads();
    const auto config = detail::read_bert_config(dir / "config.json");
    const auto st = detail::read_sentence_transformers_config(dir, config.hidden);
    std::size_t max_tokens = st.max_seq_length != 0 ? st.max_seq_length : config.max_positions;
    max_tokens = std::min(max_tokens, config.max_positions);
    if (options_.max_tokens != 0) {
      if (options_.max_tokens < 2 || options_.max_tokens > config.max_positions) {
        throw InvalidArgument("BertOptions::max_tokens " + std::to_string(options_.max_tokens) + " is outside [2, " +
                              std::to_string(config.max_positions) + "] (max_position_embeddings of " +
                              (dir / "config.json").string() + "). Remediation: use 0 for the model's default.");
      }
      max_tokens = options_.max_tokens;
    }
    tokenizer_ =
        std::make_unique<detail::WordPieceTokenizer>(detail::WordPieceTokenizer::from_directory(dir, max_tokens));
    if (tokenizer_->vocab_size() > config.vocab) {
      throw InvalidArgument("model file " + (dir / "config.json").string() + ": vocab_size " +
                            std::to_string(config.vocab) + " is smaller than the tokenizer's vocabulary of " +
                            std::to_string(tokenizer_->vocab_size()) +
                            " tokens. Remediation: use the vocabulary the model was trained with.");
    }
    const auto weights_file = dir / "model.safetensors";
    auto weights = detail::SafetensorsFile::open(weights_file);
    model_ = std::make_unique<detail::BertModel>(config, std::move(weights), (dir / "config.json").string());

    info_.name = options_.name;
    if (info_.name.empty()) {
      auto d = dir;
      if (!d.has_filename()) d = d.parent_path();  // "models/x/" -> "models/x"
      info_.name = d.filename().string();
    }
    info_.dir = dir;
    info_.hidden_size = config.hidden;
    info_.num_layers = config.layers;
    info_.num_heads = config.heads;
    info_.intermediate_size = config.intermediate;
    info_.max_position_embeddings = config.max_positions;
    info_.vocab_size = config.vocab;
    info_.layer_norm_eps = config.eps;
    info_.max_tokens = tokenizer_->options().max_length;
    info_.pooling = st.pooling;
    info_.normalize = st.normalize;
    info_.weights_dtype = model_->weights_dtype();
    info_.weights_sha256 = sha256_file(weights_file);
    fingerprint_ =
        "bert:" + info_.name + ":" + info_.weights_sha256.substr(0, 16) + ":d" + std::to_string(config.hidden);
    if (options_.recommended_threshold) {
      const double t = *options_.recommended_threshold;
      if (!(t >= -1.0 && t <= 1.0)) {
        throw InvalidArgument("BertOptions::recommended_threshold " + std::to_string(t) +
                              " is outside [-1, 1]. Remediation: a cosine similarity threshold, e.g. 0.8.");
      }
      recommended_threshold_ = t;
    } else if (options_.query_prefix.empty()) {
      recommended_threshold_ = calibrated_threshold(info_).value_or(kDefaultSimilarityThreshold);
    }
  }

  std::vector<std::int32_t> tokenize(std::string_view text) const {
    if (options_.query_prefix.empty()) return tokenizer_->encode(text);
    std::string full = options_.query_prefix;
    full.append(text);
    return tokenizer_->encode(full);
  }

  std::vector<std::vector<float>> embed_all(std::span<const std::string> texts) const {
    std::vector<std::vector<std::int32_t>> ids;
    ids.reserve(texts.size());
    for (const auto& t : texts) ids.push_back(tokenize(t));
    std::vector<std::vector<float>> out;
    out.reserve(texts.size());
    std::size_t begin = 0;
    while (begin < ids.size()) {
      std::size_t end = begin, tokens = 0;
      while (end < ids.size() && (end == begin || tokens + ids[end].size() <= kMaxTokensPerPass))
        tokens += ids[end++].size();
      auto part = model_->forward(std::span(ids).subspan(begin, end - begin), info_.pooling, info_.normalize);
      for (auto& v : part) out.push_back(std::move(v));
      begin = end;
    }
    return out;
  }

  std::vector<float> embed(std::string_view text) const {
    std::vector<std::vector<std::int32_t>> ids{tokenize(text)};
    return std::move(model_->forward(ids, info_.pooling, info_.normalize).front());
  }

  BertOptions options_;
  BertModelInfo info_;
  double recommended_threshold_ = kDefaultSimilarityThreshold;
  std::string fingerprint_;
  std::unique_ptr<detail::WordPieceTokenizer> tokenizer_;
  std::unique_ptr<detail::BertModel> model_;
};

BertEmbedder::BertEmbedder(const std::filesystem::path& dir, BertOptions options)
    : impl_(std::make_shared<const Impl>(dir, std::move(options))) {}

std::size_t BertEmbedder::dim() const noexcept { return impl_->info_.hidden_size; }
std::string BertEmbedder::fingerprint() const { return impl_->fingerprint_; }
std::vector<float> BertEmbedder::embed(std::string_view text) const { return impl_->embed(text); }
std::vector<std::vector<float>> BertEmbedder::embed_batch(std::span<const std::string> texts) const {
  return impl_->embed_all(texts);
}
std::vector<std::int32_t> BertEmbedder::tokenize(std::string_view text) const { return impl_->tokenize(text); }
const BertModelInfo& BertEmbedder::info() const noexcept { return impl_->info_; }
double BertEmbedder::recommended_threshold() const noexcept { return impl_->recommended_threshold_; }

std::filesystem::path default_model_dir(std::string_view name) {
  std::filesystem::path root;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): engram never sets the environment
  if (const char* env = std::getenv("ENGRAM_MODEL_DIR"); env != nullptr && *env != '\0') {
    root = env;
  } else if (const char* home = std::getenv("HOME");  // NOLINT(concurrency-mt-unsafe): as above
             home != nullptr && *home != '\0') {
    root = std::filesystem::path(home) / ".cache" / "engram" / "models";
  } else {
    root = std::filesystem::path(".cache") / "engram" / "models";
  }
  return root / std::string(name);
}

}  // namespace engram
