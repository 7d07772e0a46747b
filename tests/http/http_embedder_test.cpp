// HttpEmbedder against a real local HTTP server process (fake_embedding_server): the three wire
// protocols, batching, keep-alive, dimension discovery, the API key, retries with backoff and
// Retry-After, no retry on other 4xx, response checks, and SemanticCache fail-open behaviour.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "engram/embedders/caching_embedder.hpp"
#include "engram/embedders/http_embedder.hpp"
#include "engram/errors.hpp"
#include "engram/semantic_cache.hpp"
#include "engram/stores/dict_store.hpp"
#include "fake_embedding.hpp"
#include "fake_server_process.hpp"

namespace engram {
namespace {

using namespace std::chrono_literals;
using testing::fake_embedding;
using testing::FakeEmbeddingServer;
using Clock = std::chrono::steady_clock;

constexpr const char* kKeyVar = "ENGRAM_TEST_EMBEDDING_KEY";
constexpr const char* kKey = "sk-test-9f8e7d6c5b4a3210-SECRET";

static_assert(Embedder<HttpEmbedder>);
static_assert(BatchEmbedder<HttpEmbedder>);

class HttpEmbedderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ::setenv(kKeyVar, kKey, 1);  // NOLINT(concurrency-mt-unsafe): before any test thread starts
    server_ = new FakeEmbeddingServer();
    server_->start();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { server_->reset(); }

  static HttpEmbedderOptions options(HttpApi api, const std::string& faults = "", std::string model = "fake-d8") {
    HttpEmbedderOptions o;
    o.api = api;
    o.base_url = server_->base_url(faults);
    o.model = std::move(model);
    o.dim = 8;
    o.api_key_env = kKeyVar;
    o.timeout = 5000ms;
    o.max_retries = 3;
    o.initial_backoff = 10ms;
    o.max_backoff = 50ms;
    return o;
  }

  static FakeEmbeddingServer* server_;
};
FakeEmbeddingServer* HttpEmbedderTest::server_ = nullptr;

// Runs `f`, which must throw EmbedderUnavailable; checks the message never carries the key and
// ends with a remediation, and returns it.
std::string unavailable(const std::function<void()>& f) {
  try {
    f();
  } catch (const EmbedderUnavailable& e) {
    std::string what = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kEmbedderUnavailable);
    EXPECT_EQ(what.find(kKey), std::string::npos) << what;
    EXPECT_EQ(what.find("9f8e7d6c5b4a3210"), std::string::npos) << what;
    EXPECT_NE(what.find(". Remediation: "), std::string::npos) << what;
    return what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected EmbedderUnavailable, got: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected EmbedderUnavailable, nothing was thrown";
  return {};
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ADD_FAILURE() << "bind failed";
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::vector<std::string> texts(int n) {
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back("question number " + std::to_string(i));
  return out;
}

long elapsed_ms(Clock::time_point since) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count());
}

// ---- wire protocols ---------------------------------------------------------------------------

TEST_F(HttpEmbedderTest, ThreeWireProtocolsReturnTheServersVectorsInOrder) {
  const auto in = texts(3);
  for (HttpApi api : {HttpApi::kOpenAI, HttpApi::kOllama, HttpApi::kTei}) {
    SCOPED_TRACE(to_string(api));
    HttpEmbedder e(options(api));
    EXPECT_EQ(e.dim(), 8u);
    EXPECT_EQ(e.embed("How do I reset my password?"), fake_embedding("How do I reset my password?", 8));
    const auto out = e.embed_batch(in);
    ASSERT_EQ(out.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(out[i], fake_embedding(in[i], 8));
  }
  EXPECT_EQ(server_->stats().requests, 6);
}

TEST_F(HttpEmbedderTest, FingerprintNamesApiModelAndDimension) {
  EXPECT_EQ(HttpEmbedder(options(HttpApi::kOpenAI)).fingerprint(), "http:openai:fake-d8:d8");
  EXPECT_EQ(HttpEmbedder(options(HttpApi::kOllama)).fingerprint(), "http:ollama:fake-d8:d8");
  EXPECT_EQ(HttpEmbedder(options(HttpApi::kTei)).fingerprint(), "http:tei:fake-d8:d8");
  EXPECT_EQ(server_->stats().requests, 0);  // a given dim means no network at construction
}

TEST_F(HttpEmbedderTest, OpenAIBaseUrlEndingInV1IsNotGivenASecondOne) {
  auto o = options(HttpApi::kOpenAI);
  o.base_url += "/v1/";
  EXPECT_EQ(HttpEmbedder(o).embed("hello"), fake_embedding("hello", 8));
}

TEST_F(HttpEmbedderTest, OpenAIOutOfOrderIndicesAreReordered) {
  HttpEmbedder e(options(HttpApi::kOpenAI, "reversed"));
  const auto in = texts(5);
  const auto out = e.embed_batch(in);
  ASSERT_EQ(out.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(out[i], fake_embedding(in[i], 8));
}

TEST_F(HttpEmbedderTest, OpenAIDuplicateIndexIsRejected) {
  HttpEmbedder e(options(HttpApi::kOpenAI, "dupindex"));
  const std::string what = unavailable([&] { e.embed_batch(texts(3)); });
  EXPECT_NE(what.find("index 0 twice"), std::string::npos) << what;
}

TEST_F(HttpEmbedderTest, DimensionIsDiscoveredByOneProbe) {
  for (HttpApi api : {HttpApi::kOpenAI, HttpApi::kOllama, HttpApi::kTei}) {
    SCOPED_TRACE(to_string(api));
    server_->reset();
    auto o = options(api, api == HttpApi::kTei ? "d16" : "", "fake-d16");
    o.dim.reset();
    HttpEmbedder e(o);
    EXPECT_EQ(server_->stats().requests, 1);
    EXPECT_EQ(e.dim(), 16u);
    EXPECT_EQ(e.fingerprint(), std::string("http:") + to_string(api) + ":fake-d16:d16");
    EXPECT_EQ(e.embed("x"), fake_embedding("x", 16));
  }
}

TEST_F(HttpEmbedderTest, EmbedBatchSplitsIntoBatchSizeRequests) {
  auto o = options(HttpApi::kOllama);
  o.batch_size = 4;
  HttpEmbedder e(o);
  const auto in = texts(10);
  const auto out = e.embed_batch(in);
  ASSERT_EQ(out.size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(out[i], fake_embedding(in[i], 8));
  EXPECT_EQ(server_->stats().batch_sizes, (std::vector<std::size_t>{4, 4, 2}));
  EXPECT_TRUE(e.embed_batch(std::vector<std::string>{}).empty());
  EXPECT_EQ(server_->stats().requests, 3);
}

TEST_F(HttpEmbedderTest, KeepAliveReusesOneConnection) {
  HttpEmbedder e(options(HttpApi::kOpenAI));
  for (int i = 0; i < 25; ++i) (void)e.embed("text " + std::to_string(i));
  const auto s = server_->stats();
  EXPECT_EQ(s.requests, 25);
  EXPECT_EQ(s.connections, 1);
}

TEST_F(HttpEmbedderTest, ConcurrentCallsAreCorrectAndReuseConnections) {
  HttpEmbedder e(options(HttpApi::kTei));
  constexpr int kThreads = 4, kCalls = 30;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::atomic<int> wrong{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        const std::string text = "thread " + std::to_string(t) + " call " + std::to_string(i);
        if (e.embed(text) != fake_embedding(text, 8)) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  const auto s = server_->stats();
  EXPECT_EQ(s.requests, kThreads * kCalls);
  EXPECT_LE(s.connections, kThreads);
}

// ---- the API key ------------------------------------------------------------------------------

TEST_F(HttpEmbedderTest, ApiKeyIsSentAsBearerHeader) {
  HttpEmbedder e(options(HttpApi::kOpenAI));
  (void)e.embed("hello");
  EXPECT_EQ(server_->stats().authorization, std::string("Bearer ") + kKey);
}

TEST_F(HttpEmbedderTest, NoKeyNoAuthorizationHeader) {
  auto o = options(HttpApi::kOllama);
  o.api_key_env.clear();
  (void)HttpEmbedder(o).embed("hello");
  EXPECT_EQ(server_->stats().authorization, "");
}

TEST_F(HttpEmbedderTest, UnsetKeyVariableIsInvalidArgumentNamingIt) {
  auto o = options(HttpApi::kOpenAI);
  o.api_key_env = "ENGRAM_TEST_NO_SUCH_VARIABLE";
  ::unsetenv("ENGRAM_TEST_NO_SUCH_VARIABLE");  // NOLINT(concurrency-mt-unsafe): no other thread runs
  try {
    HttpEmbedder e(o);
    FAIL() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("ENGRAM_TEST_NO_SUCH_VARIABLE"), std::string::npos);
  }
}

TEST_F(HttpEmbedderTest, Unauthorized401IsNotRetriedAndTheKeyIsNeverInTheMessage) {
  HttpEmbedder e(options(HttpApi::kOpenAI, "status401"));
  const std::string what = unavailable([&] { (void)e.embed("hello"); });
  EXPECT_NE(what.find("401"), std::string::npos) << what;
  EXPECT_NE(what.find(kKeyVar), std::string::npos) << what;       // names the variable...
  EXPECT_NE(what.find("[redacted]"), std::string::npos) << what;  // ...masks the key the server quoted
  EXPECT_EQ(server_->stats().requests, 1);
}

TEST_F(HttpEmbedderTest, BadRequest400IsNotRetried) {
  HttpEmbedder e(options(HttpApi::kTei, "status400"));
  const std::string what = unavailable([&] { (void)e.embed("hello"); });
  EXPECT_NE(what.find("400"), std::string::npos) << what;
  EXPECT_NE(what.find("not retried"), std::string::npos) << what;
  EXPECT_EQ(server_->stats().requests, 1);
}

TEST_F(HttpEmbedderTest, NotFound404PointsAtBaseUrlAndModel) {
  HttpEmbedder e(options(HttpApi::kOllama, "status404"));
  const std::string what = unavailable([&] { (void)e.embed("hello"); });
  EXPECT_NE(what.find("base_url"), std::string::npos) << what;
  EXPECT_EQ(server_->stats().requests, 1);
}

// ---- retries ----------------------------------------------------------------------------------

TEST_F(HttpEmbedderTest, ServerErrorsAreRetriedUntilSuccess) {
  HttpEmbedder e(options(HttpApi::kOpenAI, "500x2"));
  EXPECT_EQ(e.embed("hello"), fake_embedding("hello", 8));
  EXPECT_EQ(server_->stats().requests, 3);
}

TEST_F(HttpEmbedderTest, PersistentServerErrorGivesUpAfterMaxRetries) {
  auto o = options(HttpApi::kOllama, "500always");
  o.max_retries = 2;
  HttpEmbedder e(o);
  const std::string what = unavailable([&] { (void)e.embed("hello"); });
  EXPECT_NE(what.find("after 3 attempts"), std::string::npos) << what;
  EXPECT_NE(what.find("500"), std::string::npos) << what;
  EXPECT_EQ(server_->stats().requests, 3);
}

TEST_F(HttpEmbedderTest, TooManyRequestsHonoursRetryAfter) {
  HttpEmbedder e(options(HttpApi::kOpenAI, "429x1-ra1"));  // backoff alone would wait <= 50 ms
  const auto started = Clock::now();
  EXPECT_EQ(e.embed("hello"), fake_embedding("hello", 8));
  const long ms = elapsed_ms(started);
  EXPECT_GE(ms, 950);
  EXPECT_LT(ms, 10'000);
  EXPECT_EQ(server_->stats().requests, 2);
}

TEST_F(HttpEmbedderTest, RetryAfterIsCappedByMaxRetryAfter) {
  auto o = options(HttpApi::kTei, "429x1-ra60");
  o.max_retry_after = 100ms;
  HttpEmbedder e(o);
  const auto started = Clock::now();
  EXPECT_EQ(e.embed("hello"), fake_embedding("hello", 8));
  EXPECT_LT(elapsed_ms(started), 10'000);
  EXPECT_EQ(server_->stats().requests, 2);
}

TEST_F(HttpEmbedderTest, BackoffGrowsBetweenRetries) {
  auto o = options(HttpApi::kOllama, "500x3");
  o.initial_backoff = 100ms;
  o.max_backoff = 1000ms;
  HttpEmbedder e(o);
  const auto started = Clock::now();
  EXPECT_EQ(e.embed("hello"), fake_embedding("hello", 8));
  // Three waits of at least 50, 100 and 200 ms (half of 100, 200, 400 after jitter).
  EXPECT_GE(elapsed_ms(started), 350);
  EXPECT_EQ(server_->stats().requests, 4);
}

TEST_F(HttpEmbedderTest, SlowResponsePastTheTimeoutIsRetriedThenFails) {
  auto o = options(HttpApi::kOpenAI, "slow3000");
  o.timeout = 300ms;
  o.max_retries = 1;
  HttpEmbedder e(o);
  const auto started = Clock::now();
  const std::string what = unavailable([&] { (void)e.embed("hello"); });
  EXPECT_LT(elapsed_ms(started), 2500);
  EXPECT_NE(what.find("Timeout"), std::string::npos) << what;
  EXPECT_NE(what.find("after 2 attempts"), std::string::npos) << what;
  EXPECT_EQ(server_->stats().requests, 2);
}

TEST_F(HttpEmbedderTest, ConnectionRefusedIsRetriedThenFails) {
  auto o = options(HttpApi::kOpenAI);
  o.base_url = "http://127.0.0.1:" + std::to_string(free_port());
  o.max_retries = 2;
  HttpEmbedder e(o);
  const std::string what = unavailable([&] { (void)e.embed("hello"); });
  EXPECT_NE(what.find("after 3 attempts"), std::string::npos) << what;
  EXPECT_NE(what.find("connect"), std::string::npos) << what;
}

TEST_F(HttpEmbedderTest, ProbeFailureThrowsFromTheConstructor) {
  auto o = options(HttpApi::kTei);
  o.base_url = "http://127.0.0.1:" + std::to_string(free_port());
  o.dim.reset();
  o.max_retries = 0;
  unavailable([&] { HttpEmbedder e(o); });
}

// ---- response checks --------------------------------------------------------------------------

TEST_F(HttpEmbedderTest, MalformedJsonIsRejectedWithoutRetry) {
  for (HttpApi api : {HttpApi::kOpenAI, HttpApi::kOllama, HttpApi::kTei}) {
    SCOPED_TRACE(to_string(api));
    server_->reset();
    HttpEmbedder e(options(api, "malformed"));
    const std::string what = unavailable([&] { (void)e.embed_batch(texts(2)); });
    EXPECT_NE(what.find("malformed JSON"), std::string::npos) << what;
    EXPECT_EQ(server_->stats().requests, 1);
  }
}

TEST_F(HttpEmbedderTest, WrongDimensionIsRejected) {
  for (HttpApi api : {HttpApi::kOpenAI, HttpApi::kOllama, HttpApi::kTei}) {
    SCOPED_TRACE(to_string(api));
    HttpEmbedder e(options(api, "wrongdim"));
    const std::string what = unavailable([&] { (void)e.embed("hello"); });
    EXPECT_NE(what.find("dimension 9"), std::string::npos) << what;
    EXPECT_NE(what.find("expected 8"), std::string::npos) << what;
  }
  // A configured dim that does not match the model is the same failure.
  auto o = options(HttpApi::kOpenAI, "", "fake-d16");
  unavailable([&] { (void)HttpEmbedder(o).embed("hello"); });
}

TEST_F(HttpEmbedderTest, FewerVectorsThanInputsIsRejected) {
  for (HttpApi api : {HttpApi::kOpenAI, HttpApi::kOllama, HttpApi::kTei}) {
    SCOPED_TRACE(to_string(api));
    HttpEmbedder e(options(api, "fewer"));
    const std::string what = unavailable([&] { (void)e.embed_batch(texts(3)); });
    EXPECT_NE(what.find("2 embeddings for 3 inputs"), std::string::npos) << what;
  }
}

TEST_F(HttpEmbedderTest, NaNAndOutOfFloatRangeValuesAreRejected) {
  for (HttpApi api : {HttpApi::kOpenAI, HttpApi::kOllama, HttpApi::kTei}) {
    SCOPED_TRACE(to_string(api));
    // NaN is not JSON (but Python's json module writes it): a malformed response.
    unavailable([&] { (void)HttpEmbedder(options(api, "nan")).embed("hello"); });
    const std::string what = unavailable([&] { (void)HttpEmbedder(options(api, "huge")).embed("hello"); });
    EXPECT_NE(what.find("non-finite"), std::string::npos) << what;
  }
}

// ---- options ----------------------------------------------------------------------------------

TEST_F(HttpEmbedderTest, BadOptionsAreInvalidArgument) {
  auto bad = [](const std::function<void(HttpEmbedderOptions&)>& change) {
    auto o = options(HttpApi::kOpenAI);
    change(o);
    EXPECT_THROW(HttpEmbedder{o}, InvalidArgument);
  };
  bad([](auto& o) { o.base_url = "ftp://127.0.0.1"; });
  bad([](auto& o) { o.base_url = "127.0.0.1:8080"; });
  bad([](auto& o) { o.model.clear(); });
  bad([](auto& o) { o.dim = 0; });
  bad([](auto& o) { o.batch_size = 0; });
  bad([](auto& o) { o.max_retries = -1; });
  bad([](auto& o) { o.timeout = 0ms; });
  HttpEmbedder e(options(HttpApi::kOpenAI));
  EXPECT_THROW((void)e.embed("\xff\xfe"), InvalidArgument);
  EXPECT_EQ(server_->stats().requests, 0);
}

TEST_F(HttpEmbedderTest, DesignatedInitializersAsDocumented) {
  HttpEmbedder remote(HttpEmbedderOptions{
      .api = HttpApi::kOpenAI, .base_url = server_->base_url(), .model = "fake-d8", .api_key_env = kKeyVar});
  EXPECT_EQ(remote.fingerprint(), "http:openai:fake-d8:d8");
}

// ---- with CachingEmbedder and SemanticCache ---------------------------------------------------

TEST_F(HttpEmbedderTest, CachingEmbedderSendsOnlyMisses) {
  CachingEmbedder cached(HttpEmbedder(options(HttpApi::kOpenAI)), 1 << 20);
  EXPECT_EQ(cached.fingerprint(), "http:openai:fake-d8:d8");
  EXPECT_EQ(cached.embed("Hello  World"), fake_embedding("hello world", 8));
  EXPECT_EQ(cached.embed("hello world"), fake_embedding("hello world", 8));
  const std::vector<std::string> batch = {"hello world", "a", "b", "a"};
  const auto out = cached.embed_batch(batch);
  ASSERT_EQ(out.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(out[i], fake_embedding(batch[i], 8));
  const auto s = server_->stats();
  EXPECT_EQ(s.batch_sizes, (std::vector<std::size_t>{1, 2}));  // "hello world" once; then "a", "b"
  EXPECT_EQ(cached.stats().hits, 2u);
}

TEST_F(HttpEmbedderTest, SemanticCacheRoundTrip) {
  SemanticCache<DictStore, HttpEmbedder> cache(DictStore(DictStore::make_location()),
                                               HttpEmbedder(options(HttpApi::kOllama)));
  cache.put("How do I reset my password?", "Use the reset link.");
  auto hit = cache.get("how do I reset my password");  // no "?": the semantic layer, same vector
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->layer, Layer::kSemantic);
  EXPECT_EQ(hit->response, "Use the reset link.");
  EXPECT_FALSE(cache.get("What is the capital of France?"));
  EXPECT_EQ(server_->stats().requests, 3);
}

TEST(HttpEmbedderDown, GetFailsOpenAsCountedErrorMissAndPutThrows) {
  FakeEmbeddingServer server;
  server.start();
  HttpEmbedderOptions o;
  o.api = HttpApi::kOpenAI;
  o.base_url = server.base_url();
  o.model = "fake-d8";
  o.max_retries = 1;
  o.initial_backoff = 10ms;
  o.timeout = 2000ms;  // dim probed while the server is up
  std::vector<std::string> errors;
  CacheOptions co;
  co.on_error = [&](const std::exception& e) {
    errors.emplace_back(dynamic_cast<const EmbedderUnavailable*>(&e) ? "EmbedderUnavailable" : e.what());
  };
  SemanticCache<DictStore, HttpEmbedder> cache(DictStore(DictStore::make_location()), HttpEmbedder(o), co);
  cache.put("How do I reset my password?", "Use the reset link.");

  server.stop();  // the service goes away
  EXPECT_FALSE(cache.get("how do I reset my password"));
  EXPECT_EQ(cache.stats().total.misses(MissReason::kError), 1u);
  EXPECT_EQ(errors, std::vector<std::string>{"EmbedderUnavailable"});
  ASSERT_TRUE(cache.get("How do I reset my password?"));  // the exact layer needs no embedder
  EXPECT_THROW(cache.put("What is the capital of France?", "Paris."), EmbedderUnavailable);
}

}  // namespace
}  // namespace engram
