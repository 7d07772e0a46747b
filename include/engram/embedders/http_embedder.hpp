#pragma once
// HttpEmbedder: embeds text by calling an embedding service over HTTP(S) with libcurl
// (CMake target engram::http). Three wire protocols:
//
//   HttpApi::kOpenAI  POST {base_url}/v1/embeddings  {"model": m, "input": [texts]}
//                     -> {"data": [{"index": i, "embedding": [floats]}, ...]}
//                     (OpenAI, Azure-style proxies, vLLM, llama.cpp, LM Studio, LiteLLM, ...;
//                     a base_url that already ends in "/v1" is not given a second one)
//   HttpApi::kOllama  POST {base_url}/api/embed      {"model": m, "input": [texts]}
//                     -> {"embeddings": [[floats], ...]}
//   HttpApi::kTei     POST {base_url}/embed          {"inputs": [texts]}
//                     -> [[floats], ...]             (Hugging Face text-embeddings-inference;
//                                                     `model` is only used in the fingerprint)
//
//   engram::HttpEmbedder remote(engram::HttpEmbedderOptions{
//       .api = engram::HttpApi::kOpenAI, .base_url = "http://127.0.0.1:8080", .model = "m",
//       .api_key_env = "OPENAI_API_KEY"});
//
// Contracts:
// - dim(): HttpEmbedderOptions::dim when set (no network at construction); otherwise the
//   constructor sends one probe request and takes the length of the vector it gets back
//   (throwing EmbedderUnavailable when the service cannot be reached).
// - fingerprint(): "http:<openai|ollama|tei>:<model>:d<dim>".
// - Every response is checked before use: valid JSON of the expected shape, exactly one
//   vector per input (for OpenAI every index 0..n-1 exactly once; vectors are returned in
//   input order whatever order the server used), each of dim() numbers, all finite as float.
// - Retries: connection failures, timeouts, HTTP 429 and 5xx are retried up to max_retries
//   times with exponential backoff and full jitter (initial_backoff doubling up to
//   max_backoff); a Retry-After header (delay in seconds) on a 429/503 replaces the backoff,
//   capped at max_retry_after. Other 4xx statuses (400 bad request, 401/403 key, 404 URL or
//   model) are configuration errors and are not retried; malformed responses are not retried.
// - Every failure throws EmbedderUnavailable saying what happened (URL, status, curl error,
//   what was wrong with the response) and ending with a remediation. The API key is read once,
//   at construction, from the environment variable *named* by api_key_env, sent as
//   "Authorization: Bearer <key>", and never logged or put in any message (it is also masked
//   out of any server text quoted in an error). Invalid UTF-8 text throws InvalidArgument.
// - Keep-alive: each HttpEmbedder keeps a small pool of libcurl handles; a call borrows one
//   for its requests and returns it, so a thread calling repeatedly reuses its connection.
//
// Thread safety: embed() and embed_batch() may be called from any number of threads at once.
// Copies share the same configuration and connection pool.

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engram/types.hpp"

namespace engram {

enum class HttpApi { kOpenAI, kOllama, kTei };

// "openai", "ollama", "tei" (as used in fingerprints).
const char* to_string(HttpApi api) noexcept;

struct HttpEmbedderOptions {
  HttpApi api = HttpApi::kOpenAI;
  std::string base_url{};            // "http(s)://host[:port][/prefix]", without the API path
  std::string model{};               // sent as "model" (OpenAI, Ollama); always part of the fingerprint
  std::optional<std::size_t> dim{};  // empty: discovered by one probe request at construction
  std::string api_key_env{};         // NAME of the environment variable holding the key; empty: none
  Millis timeout{30'000};            // per HTTP attempt, connection included
  int max_retries = 3;               // retries after the first attempt (0: try once)
  std::size_t batch_size = 64;       // texts per request in embed_batch
  Millis connect_timeout{5'000};     // TCP/TLS connect, per attempt (capped by timeout)
  Millis initial_backoff{200};       // first retry delay before jitter; doubles per retry
  Millis max_backoff{5'000};         // cap of the exponential backoff
  Millis max_retry_after{30'000};    // cap on a server's Retry-After
};

class HttpEmbedder {
 public:
  // Throws InvalidArgument for bad options (empty model, base_url not http(s)://, timeout,
  // batch_size or dim of 0, negative max_retries, api_key_env naming an unset or empty
  // variable), EmbedderUnavailable when the dimension probe fails.
  explicit HttpEmbedder(HttpEmbedderOptions options);
  ~HttpEmbedder();
  HttpEmbedder(const HttpEmbedder&);
  HttpEmbedder& operator=(const HttpEmbedder&);
  HttpEmbedder(HttpEmbedder&&) noexcept;
  HttpEmbedder& operator=(HttpEmbedder&&) noexcept;

  std::size_t dim() const noexcept;
  std::string fingerprint() const;
  // The vector for `text` as the service returned it (dim() finite floats).
  std::vector<float> embed(std::string_view text) const;
  // One vector per text, in order; sends ceil(texts.size() / batch_size) requests.
  std::vector<std::vector<float>> embed_batch(std::span<const std::string> texts) const;

  const HttpEmbedderOptions& options() const noexcept;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace engram
