// BertEmbedder on the real all-MiniLM-L6-v2: parity with the reference implementation
// (tests/data/bert/embeddings.json, written by tools/bert_reference_embeddings.py with
// sentence-transformers), embed_batch == embed, concurrent embed(), and a SemanticCache round
// trip on SQLite. The model comes from scripts/fetch-model.sh (ENGRAM_MODEL_DIR or
// ~/.cache/engram/models); without it these tests fail with that instruction.
#include <gtest/gtest.h>

#include <simdjson.h>
#include <algorithm>
#include <thread>

#include "bert_model.hpp"
#include "bert_test_util.hpp"
#include "engram/embedders/hashing_embedder.hpp"
#include "engram/errors.hpp"
#include "engram/semantic_cache.hpp"
#include "engram/stores/sqlite_store.hpp"
#include "temp_dir.hpp"

namespace engram {
namespace {

struct Reference {
  std::string text;
  std::vector<std::int32_t> ids;
  std::vector<float> embedding;
};

const std::vector<Reference>& references() {
  static const std::vector<Reference> refs = [] {
    std::vector<Reference> out;
    const auto path = std::filesystem::path(ENGRAM_BERT_TEST_DATA) / "embeddings.json";
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.load(path.string()).get(doc)) throw std::runtime_error("cannot parse " + path.string());
    for (auto item : doc["items"].get_array()) {
      Reference r;
      r.text = std::string(std::string_view(item["text"]));
      for (auto id : item["input_ids"].get_array()) r.ids.push_back(static_cast<std::int32_t>(int64_t(id)));
      for (auto v : item["embedding"].get_array()) r.embedding.push_back(static_cast<float>(double(v)));
      out.push_back(std::move(r));
    }
    return out;
  }();
  return refs;
}

class RealModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto dir = default_model_dir(testing::kModelName);
    if (std::filesystem::exists(dir / "model.safetensors")) model_ = new BertEmbedder(dir);
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  void SetUp() override {
    if (model_ == nullptr) {
      testing::real_model_dir();  // records the failure with the instruction
      FAIL() << "model not installed";
    }
  }
  static inline BertEmbedder* model_ = nullptr;
};

TEST_F(RealModel, DescribesItself) {
  const auto& info = model_->info();
  EXPECT_EQ(model_->dim(), 384u);
  EXPECT_EQ(info.num_layers, 6u);
  EXPECT_EQ(info.num_heads, 12u);
  EXPECT_EQ(info.max_tokens, 256u);
  EXPECT_EQ(info.pooling, BertPooling::kMean);
  EXPECT_TRUE(info.normalize);
  EXPECT_EQ(info.weights_dtype, "F32");
  EXPECT_EQ(info.weights_sha256.size(), 64u);
  EXPECT_EQ(model_->fingerprint(), "bert:all-MiniLM-L6-v2:" + info.weights_sha256.substr(0, 16) + ":d384");
}

TEST_F(RealModel, TokenIdsMatchTheReferenceTokenizer) {
  const auto& refs = references();
  ASSERT_GE(refs.size(), 100u);
  std::size_t mismatches = 0;
  for (const auto& r : refs) {
    const auto ids = model_->tokenize(r.text);
    if (ids != r.ids) {
      ++mismatches;
      ADD_FAILURE() << "token ids differ for: " << r.text.substr(0, 120);
    }
  }
  std::printf("[ parity ] token ids: %zu of %zu sentences differ\n", mismatches, refs.size());
}

// The encoder alone, fed the reference tokenizer's ids: isolates the model from the tokenizer.
TEST_F(RealModel, EncoderMatchesTheReferenceOnTheReferenceIds) {
  const auto dir = default_model_dir(testing::kModelName);
  const auto config = detail::read_bert_config(dir / "config.json");
  detail::BertModel model(config, detail::SafetensorsFile::open(dir / "model.safetensors"));
  double worst = 2;
  std::string worst_text;
  for (const auto& r : references()) {
    std::vector<std::vector<std::int32_t>> ids{r.ids};
    const auto v = model.forward(ids, BertPooling::kMean, true).front();
    const double c = testing::cosine(v, r.embedding);
    if (c < worst) worst = c, worst_text = r.text;
    EXPECT_GE(c, 0.9999) << r.text.substr(0, 120);
  }
  std::printf("[ parity ] encoder on reference ids: worst cosine %.9f (1 - worst = %.2e) for \"%s\"\n", worst,
              1 - worst, worst_text.substr(0, 80).c_str());
}

TEST_F(RealModel, EmbeddingsMatchTheReference) {
  double worst = 2, sum = 0;
  std::string worst_text;
  const auto& refs = references();
  for (const auto& r : refs) {
    const auto v = model_->embed(r.text);
    ASSERT_EQ(v.size(), r.embedding.size());
    const double c = testing::cosine(v, r.embedding);
    sum += c;
    if (c < worst) worst = c, worst_text = r.text;
    EXPECT_GE(c, 0.9999) << r.text.substr(0, 120);
  }
  std::printf("[ parity ] %zu sentences: worst cosine %.9f (1 - worst = %.2e, mean %.9f) for \"%s\"\n", refs.size(),
              worst, 1 - worst, sum / static_cast<double>(refs.size()), worst_text.substr(0, 80).c_str());
}

TEST_F(RealModel, BatchEqualsSingle) {
  std::vector<std::string> texts;
  texts.reserve(references().size());
  for (const auto& r : references()) texts.push_back(r.text);  // lengths from 2 to 256 tokens, "" included
  std::vector<std::string> mixed = {"hi", texts[0], "", std::string(3000, 'a') + " b", "a b c d e f g h", texts.back()};
  for (const auto* batch : {&texts, &mixed}) {
    const auto vectors = model_->embed_batch(*batch);
    ASSERT_EQ(vectors.size(), batch->size());
    for (std::size_t i = 0; i < batch->size(); ++i) {
      EXPECT_GE(testing::cosine(vectors[i], model_->embed((*batch)[i])), 0.99999) << (*batch)[i].substr(0, 80);
    }
  }
  EXPECT_TRUE(model_->embed_batch({}).empty());
}

TEST_F(RealModel, ConcurrentEmbedGivesIdenticalResults) {
  std::vector<std::string> texts;
  texts.reserve(references().size());
  for (const auto& r : references()) texts.push_back(r.text);
  texts.resize(32);
  std::vector<std::vector<float>> expected;
  expected.reserve(texts.size());
  for (const auto& t : texts) expected.push_back(model_->embed(t));
  std::vector<std::thread> threads;
  threads.reserve(8);
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const BertEmbedder copy = *model_;  // copies share the model
      for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < texts.size(); ++i) {
          const std::size_t k = (i + static_cast<std::size_t>(t) * 5) % texts.size();
          if ((round + t) % 2 == 0 ? copy.embed(texts[k]) != expected[k] : model_->embed(texts[k]) != expected[k]) {
            ++failures[static_cast<std::size_t>(t)];
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(failures[static_cast<std::size_t>(t)], 0) << "thread " << t;
}

TEST_F(RealModel, InvalidUtf8Throws) { EXPECT_THROW(model_->embed("\xff\xfe"), InvalidArgument); }

TEST_F(RealModel, LongTextIsTruncatedToMaxTokens) {
  std::string text;
  for (int i = 0; i < 400; ++i) text += "word ";
  EXPECT_EQ(model_->tokenize(text).size(), 256u);
  BertEmbedder short_model(default_model_dir(testing::kModelName), BertOptions{.max_tokens = 16});
  EXPECT_EQ(short_model.tokenize(text).size(), 16u);
  EXPECT_EQ(short_model.fingerprint(), model_->fingerprint());
}

// Threshold 0.75: on MiniLM-L6 the paraphrase below scores ~0.8-0.9 while unrelated support
// questions score < 0.4 (the parity sentences); 0.75 keeps a margin on both sides.
TEST_F(RealModel, SemanticCacheOnSqliteServesAParaphraseAndRejectsAnotherEmbedder) {
  testing::TempDir tmp;
  const auto db = tmp / "bert.db";
  const std::string question = "How do I reset my password?";
  const std::string paraphrase = "I forgot my password, how can I change it?";
  const std::string unrelated = "What is the capital of France?";
  std::printf("[ cache ] cosine(question, paraphrase) = %.4f, cosine(question, unrelated) = %.4f\n",
              testing::cosine(model_->embed(question), model_->embed(paraphrase)),
              testing::cosine(model_->embed(question), model_->embed(unrelated)));
  {
    SemanticCache cache(SqliteStore(db), *model_, CacheOptions{.similarity_threshold = 0.75});
    cache.put(question, "Use the reset link on the sign-in page.");
    const auto hit = cache.get(paraphrase);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->layer, Layer::kSemantic);
    EXPECT_EQ(hit->response, "Use the reset link on the sign-in page.");
    EXPECT_FALSE(cache.get(unrelated));
  }
  {
    SemanticCache reopened(SqliteStore(db), *model_, CacheOptions{.similarity_threshold = 0.75});
    EXPECT_TRUE(reopened.get(paraphrase));
  }
  EXPECT_THROW(SemanticCache(SqliteStore(db), HashingEmbedder{}), EmbedderMismatch);
}

// The calibrated threshold (docs/answer-quality.md): SemanticCache uses it when the option is
// unset; BertOptions::recommended_threshold and CacheOptions::similarity_threshold override it.
TEST_F(RealModel, RecommendedThresholdIsCalibratedAndUsedByTheCache) {
  static_assert(RecommendsThreshold<BertEmbedder>);
  EXPECT_DOUBLE_EQ(model_->recommended_threshold(), 0.72);
  testing::TempDir tmp;
  {
    SemanticCache cache(SqliteStore(tmp / "default.db"), *model_);
    EXPECT_DOUBLE_EQ(cache.similarity_threshold(), 0.72);
  }
  {
    SemanticCache cache(SqliteStore(tmp / "option.db"), *model_, CacheOptions{.similarity_threshold = 0.9});
    EXPECT_DOUBLE_EQ(cache.similarity_threshold(), 0.9);
  }
  const BertEmbedder custom(default_model_dir(testing::kModelName), BertOptions{.recommended_threshold = 0.6});
  EXPECT_DOUBLE_EQ(custom.recommended_threshold(), 0.6);
  {
    SemanticCache cache(SqliteStore(tmp / "custom.db"), custom);
    EXPECT_DOUBLE_EQ(cache.similarity_threshold(), 0.6);
  }
  // Renamed but the same weights: still calibrated. With a query prefix: the default.
  EXPECT_DOUBLE_EQ(
      BertEmbedder(default_model_dir(testing::kModelName), BertOptions{.name = "renamed"}).recommended_threshold(),
      0.72);
  EXPECT_DOUBLE_EQ(BertEmbedder(default_model_dir(testing::kModelName), BertOptions{.query_prefix = "query: "})
                       .recommended_threshold(),
                   kDefaultSimilarityThreshold);
  EXPECT_THROW(BertEmbedder(default_model_dir(testing::kModelName), BertOptions{.recommended_threshold = 1.5}),
               InvalidArgument);
}

// Changes the environment: no other thread runs while it does.
// NOLINTBEGIN(concurrency-mt-unsafe)
TEST(DefaultModelDir, FollowsTheEnvironment) {
  const char* saved = std::getenv("ENGRAM_MODEL_DIR");
  const std::string saved_value = saved ? saved : "";
  ::setenv("ENGRAM_MODEL_DIR", "/opt/models", 1);
  EXPECT_EQ(default_model_dir("m"), std::filesystem::path("/opt/models/m"));
  ::setenv("ENGRAM_MODEL_DIR", "", 1);
  const char* home = std::getenv("HOME");
  if (home != nullptr) {
    EXPECT_EQ(default_model_dir("m"), std::filesystem::path(home) / ".cache/engram/models/m");
  }
  if (saved) ::setenv("ENGRAM_MODEL_DIR", saved_value.c_str(), 1);
  else ::unsetenv("ENGRAM_MODEL_DIR");
}
// NOLINTEND(concurrency-mt-unsafe)

}  // namespace
}  // namespace engram
