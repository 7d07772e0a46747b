// HttpEmbedder: libcurl transport, retry policy and simdjson response checks.
#include "engram/embedders/http_embedder.hpp"

#include <curl/curl.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include "engram/detail/json.hpp"
#include "engram/errors.hpp"
#include "engram/normalize.hpp"

namespace engram {

const char* to_string(HttpApi api) noexcept {
  switch (api) {
    case HttpApi::kOpenAI:
      return "openai";
    case HttpApi::kOllama:
      return "ollama";
    case HttpApi::kTei:
      return "tei";
  }
  return "unknown";
}

namespace {

constexpr std::size_t kMaxResponseBytes = std::size_t{256} << 20;
constexpr std::size_t kMaxIdleHandles = 16;
constexpr std::size_t kSnippetBytes = 200;
constexpr std::string_view kProbeText = "engram dimension probe";

void global_init() {
  static const CURLcode result = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (result != CURLE_OK) {
    throw EmbedderUnavailable(std::string("libcurl could not be initialized: ") + curl_easy_strerror(result) +
                              ". Remediation: check the libcurl installation (libcurl4-openssl-dev).");
  }
}

const char* api_name(HttpApi api) {
  switch (api) {
    case HttpApi::kOpenAI:
      return "OpenAI-compatible";
    case HttpApi::kOllama:
      return "Ollama";
    case HttpApi::kTei:
      return "TEI";
  }
  return "unknown";
}

// Replaces every occurrence of `secret` in `text` (no-op for an empty secret).
std::string redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "[redacted]");
    at += 10;
  }
  return text;
}

// A short printable excerpt of a server's answer for an error message.
std::string snippet(std::string_view body, const std::string& secret) {
  std::string s(body.substr(0, kSnippetBytes));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  s = redact(std::move(s), secret);
  if (body.size() > kSnippetBytes) s += "...";
  return s.empty() ? "(empty body)" : "\"" + s + "\"";
}

// "scheme://user:password@host/..." -> "scheme://host/..." for messages.
std::string without_userinfo(const std::string& url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const std::size_t host = scheme + 3;
  const std::size_t end = url.find_first_of("/?#", host);
  const std::size_t at = url.rfind('@', end == std::string::npos ? std::string::npos : end);
  if (at == std::string::npos || at < host) return url;
  return url.substr(0, host) + url.substr(at + 1);
}

bool retryable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

struct Exchange {
  std::string body;
  bool too_large = false;
  std::optional<long> retry_after_s;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const std::size_t bytes = size * n;
  if (ex->body.size() + bytes > kMaxResponseBytes) {
    ex->too_large = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  ex->body.append(data, bytes);
  return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const std::size_t bytes = size * n;
  std::string_view line(data, bytes);
  if (line.starts_with("HTTP/")) {  // a new response (after 100 Continue, say): forget the old headers
    ex->retry_after_s.reset();
    return bytes;
  }
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() && std::equal(kName.begin(), kName.end(), line.begin(), [](char a, char b) {
        return a == static_cast<char>(std::tolower(static_cast<unsigned char>(b)));
      })) {
    std::string_view value = line.substr(kName.size());
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    long seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    // Delay-seconds only; an HTTP-date falls back to the exponential backoff.
    if (ec == std::errc() && seconds >= 0 &&
        (end == value.data() + value.size() || *end == '\r' || *end == '\n' || *end == ' ' || *end == '.')) {
      ex->retry_after_s = seconds;
    }
  }
  return bytes;
}

struct HandleDeleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
using Handle = std::unique_ptr<CURL, HandleDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};

std::mt19937_64& rng() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine;
}

}  // namespace

struct HttpEmbedder::Impl {
  HttpEmbedderOptions options;
  std::string url;          // the endpoint
  std::string display_url;  // the endpoint without credentials, for messages
  std::string api_key;      // never printed
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  std::size_t dim = 0;

  std::mutex pool_mu;
  std::vector<Handle> idle;  // keep-alive: handles (and their connections) between calls

  explicit Impl(HttpEmbedderOptions o) : options(std::move(o)) {
    validate();
    global_init();
    std::string base = options.base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    switch (options.api) {
      case HttpApi::kOpenAI:
        url = base + (base.ends_with("/v1") ? "/embeddings" : "/v1/embeddings");
        break;
      case HttpApi::kOllama:
        url = base + "/api/embed";
        break;
      case HttpApi::kTei:
        url = base + "/embed";
        break;
    }
    display_url = without_userinfo(url);
    if (!options.api_key_env.empty()) {
      // NOLINTNEXTLINE(concurrency-mt-unsafe): read once, at construction
      const char* key = std::getenv(options.api_key_env.c_str());
      if (key == nullptr || *key == '\0') {
        throw InvalidArgument("HttpEmbedderOptions::api_key_env names the environment variable '" +
                              options.api_key_env +
                              "', which is not set or empty. Remediation: export it with the service's API key, "
                              "or leave api_key_env empty for a service that needs no key.");
      }
      api_key = key;
    }
    curl_slist* list = nullptr;
    auto add = [&](const std::string& h) {
      curl_slist* next = curl_slist_append(list, h.c_str());
      if (next == nullptr) {
        curl_slist_free_all(list);
        throw std::bad_alloc();
      }
      list = next;
    };
    add("Content-Type: application/json");
    add("Accept: application/json");
    add("Expect:");  // no 100-continue round trip for large batches
    if (!api_key.empty()) add("Authorization: Bearer " + api_key);
    headers.reset(list);
  }

  void validate() const {
    auto bad = [](const std::string& what) {
      throw InvalidArgument("HttpEmbedderOptions: " + what + ". Remediation: fix the option (see http_embedder.hpp).");
    };
    if (options.api != HttpApi::kOpenAI && options.api != HttpApi::kOllama && options.api != HttpApi::kTei)
      bad("api is not one of kOpenAI, kOllama, kTei");
    if (!options.base_url.starts_with("http://") && !options.base_url.starts_with("https://"))
      bad("base_url '" + without_userinfo(options.base_url) + "' does not start with http:// or https://");
    if (options.base_url.find_first_of(" \t\r\n") != std::string::npos) bad("base_url contains whitespace");
    if (options.model.empty()) bad("model is empty (it is part of the fingerprint; for TEI name the served model)");
    if (!is_valid_utf8(options.model)) bad("model is not valid UTF-8");
    if (options.dim && (*options.dim == 0 || *options.dim > 65536)) bad("dim must be in 1..65536");
    if (options.timeout.count() <= 0) bad("timeout must be positive");
    if (options.connect_timeout.count() <= 0) bad("connect_timeout must be positive");
    if (options.max_retries < 0 || options.max_retries > 100) bad("max_retries must be in 0..100");
    if (options.batch_size == 0) bad("batch_size must be at least 1");
    if (options.initial_backoff.count() < 0 || options.max_backoff.count() < 0 || options.max_retry_after.count() < 0)
      bad("backoff and retry-after limits must not be negative");
  }

  Handle acquire() {
    {
      std::lock_guard lock(pool_mu);
      if (!idle.empty()) {
        Handle h = std::move(idle.back());
        idle.pop_back();
        return h;
      }
    }
    Handle h(curl_easy_init());
    if (!h) {
      throw EmbedderUnavailable("libcurl could not create a handle for " + display_url +
                                ". Remediation: check memory limits and the libcurl installation.");
    }
    CURL* c = h.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // thread-safe timeouts
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(options.connect_timeout, options.timeout).count()));
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  // never forward the key elsewhere
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
    return h;
  }

  void release(Handle h) {
    // Drop the pointers into the finished call's stack frame before the handle is parked.
    curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, nullptr);
    curl_easy_setopt(h.get(), CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, nullptr);
    curl_easy_setopt(h.get(), CURLOPT_HEADERDATA, nullptr);
    std::lock_guard lock(pool_mu);
    if (idle.size() < kMaxIdleHandles) idle.push_back(std::move(h));
  }

  std::string request_body(std::span<const std::string> texts) const {
    std::size_t size = 64 + options.model.size();
    for (const std::string& t : texts) size += t.size() + 8;
    std::string body;
    body.reserve(size);
    if (options.api == HttpApi::kTei) {
      body += "{\"inputs\":[";
    } else {
      body += "{\"model\":";
      detail::append_json_string(body, options.model);
      body += ",\"input\":[";
    }
    for (std::size_t i = 0; i < texts.size(); ++i) {
      if (i) body += ',';
      detail::append_json_string(body, texts[i]);
    }
    body += "]}";
    return body;
  }

  [[noreturn]] void fail(const std::string& what, const std::string& remediation) const {
    throw EmbedderUnavailable(redact(what + ". Remediation: " + remediation, api_key));
  }

  [[noreturn]] void bad_response(const std::string& what) const {
    fail("the " + std::string(api_name(options.api)) + " embedding service at " + display_url + " returned " + what,
         std::string("check that base_url points to a service speaking the ") + api_name(options.api) +
             " embeddings API (api = " + to_string(options.api) + ") and that model '" + options.model +
             "' is an embedding model");
  }

  // One vector per text, in order; `expected` is the dimension (0: accept any non-zero one).
  std::vector<std::vector<float>> post(std::span<const std::string> texts, std::size_t expected) {
    const std::string body = request_body(texts);
    Handle handle = acquire();
    CURL* c = handle.get();
    char errbuf[CURL_ERROR_SIZE];
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);

    const int attempts = options.max_retries + 1;
    std::string last;
    for (int attempt = 1;; ++attempt) {
      Exchange ex;
      errbuf[0] = '\0';
      curl_easy_setopt(c, CURLOPT_WRITEDATA, &ex);
      curl_easy_setopt(c, CURLOPT_HEADERDATA, &ex);
      const CURLcode code = curl_easy_perform(c);
      long status = 0;
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
      std::optional<Millis> wait;
      if (code != CURLE_OK) {
        if (ex.too_large) {
          release(std::move(handle));
          bad_response("more than " + std::to_string(kMaxResponseBytes >> 20) + " MiB");
        }
        last = std::string(curl_easy_strerror(code)) + (errbuf[0] ? std::string(" (") + errbuf + ")" : std::string());
        if (!retryable(code)) {
          fail("POST " + display_url + " failed: " + last,
               "check base_url (scheme, host, port) and the TLS setup; this error is not retried");
        }
      } else if (status >= 200 && status < 300) {
        release(std::move(handle));
        return parse(ex.body, texts.size(), expected);
      } else if (status == 429 || status >= 500) {
        last = "HTTP status " + std::to_string(status) + " " + snippet(ex.body, api_key);
        if (ex.retry_after_s) wait = std::min<Millis>(std::chrono::seconds(*ex.retry_after_s), options.max_retry_after);
      } else {
        release(std::move(handle));
        fail("POST " + display_url + " answered HTTP status " + std::to_string(status) + " " +
                 snippet(ex.body, api_key) + "; this status is not retried",
             client_error_remediation(status));
      }
      if (attempt >= attempts) {
        fail("POST " + display_url + " failed after " + std::to_string(attempts) +
                 (attempts == 1 ? " attempt" : " attempts") + "; the last: " + last,
             "check that the embedding service is running and reachable at base_url; for a slow or busy service "
             "raise timeout (" +
                 std::to_string(options.timeout.count()) + " ms) or max_retries (" +
                 std::to_string(options.max_retries) + "). SemanticCache::get serves misses meanwhile (fail_open)");
      }
      std::this_thread::sleep_for(wait ? *wait : backoff(attempt));
    }
  }

  Millis backoff(int retry) const {
    // Exponential (initial * 2^(retry-1), capped) with full jitter in [delay/2, delay].
    const double base = static_cast<double>(options.initial_backoff.count()) * std::ldexp(1.0, std::min(retry - 1, 30));
    const double capped = std::min(base, static_cast<double>(options.max_backoff.count()));
    std::uniform_real_distribution<double> jitter(capped / 2, capped);
    return Millis(static_cast<Millis::rep>(capped > 0 ? jitter(rng()) : 0));
  }

  std::string client_error_remediation(long status) const {
    std::string key_hint =
        options.api_key_env.empty()
            ? std::string(
                  "this embedder sends no key: set api_key_env to the name of the environment variable "
                  "holding the service's key")
            : "check that the environment variable " + options.api_key_env + " holds a valid key for this service";
    switch (status) {
      case 401:
      case 403:
        return key_hint;
      case 404:
        return std::string("check base_url (without the API path) and api (") + to_string(options.api) +
               "), and that the service serves model '" + options.model + "'";
      case 400:
      case 413:
      case 422:
        return "check model '" + options.model +
               "', and that the texts fit the model's input limit (lower batch_size for a request-size limit)";
      default:
        return "check base_url, api, model and the key; the service refused the request";
    }
  }

  // Reads one JSON array of numbers into a vector of finite floats.
  void read_vector(simdjson::dom::element e, std::size_t expected, std::vector<float>& out, std::size_t which) const {
    simdjson::dom::array a;
    if (e.get_array().get(a) != simdjson::SUCCESS) {
      bad_response("a non-array embedding at position " + std::to_string(which));
    }
    const std::size_t n = a.size();
    if (n == 0) bad_response("an empty embedding at position " + std::to_string(which));
    if (expected != 0 && n != expected) {
      fail("the " + std::string(api_name(options.api)) + " embedding service at " + display_url +
               " returned an embedding of dimension " + std::to_string(n) + " at position " + std::to_string(which) +
               ", expected " + std::to_string(expected),
           "set HttpEmbedderOptions::dim to the dimension of model '" + options.model +
               "' (or leave it empty to discover it), or check that the service serves that model; a cache "
               "created with one dimension cannot take another");
    }
    out.clear();
    out.reserve(n);
    for (simdjson::dom::element x : a) {
      double d = 0;
      if (x.get_double().get(d) != simdjson::SUCCESS) {
        bad_response("a non-numeric embedding component at position " + std::to_string(which));
      }
      if (!std::isfinite(d) || std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max())) {
        bad_response("a non-finite (or out of float range) embedding component at position " + std::to_string(which));
      }
      out.push_back(static_cast<float>(d));
    }
  }

  std::vector<std::vector<float>> parse(const std::string& body, std::size_t count, std::size_t expected) const {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (const auto err = parser.parse(simdjson::padded_string(body)).get(root); err != simdjson::SUCCESS) {
      bad_response(std::string("malformed JSON (") + simdjson::error_message(err) + ") " + snippet(body, api_key));
    }
    std::vector<std::vector<float>> out(count);
    auto check_count = [&](std::size_t n) {
      if (n != count) {
        bad_response(std::to_string(n) + " embeddings for " + std::to_string(count) +
                     (count == 1 ? " input" : " inputs"));
      }
    };
    std::size_t discovered = expected;  // 0 until the first vector fixes it
    simdjson::dom::array list;
    switch (options.api) {
      case HttpApi::kOpenAI: {
        if (root["data"].get_array().get(list) != simdjson::SUCCESS) {
          bad_response("no \"data\" array " + snippet(body, api_key));
        }
        check_count(list.size());
        std::vector<bool> seen(count, false);
        std::size_t position = 0;
        for (simdjson::dom::element item : list) {
          std::uint64_t index = 0;
          if (item["index"].get_uint64().get(index) != simdjson::SUCCESS) {
            bad_response("a \"data\" item without an integer \"index\" at position " + std::to_string(position));
          }
          if (index >= count || seen[index]) {
            bad_response("index " + std::to_string(index) + (index >= count ? " out of range" : " twice") + " for " +
                         std::to_string(count) + " inputs");
          }
          seen[index] = true;
          simdjson::dom::element embedding;
          if (item["embedding"].get(embedding) != simdjson::SUCCESS) {
            bad_response("a \"data\" item without \"embedding\" at index " + std::to_string(index));
          }
          read_vector(embedding, discovered, out[index], index);
          discovered = out[index].size();
          ++position;
        }
        return out;
      }
      case HttpApi::kOllama:
        if (root["embeddings"].get_array().get(list) != simdjson::SUCCESS) {
          bad_response("no \"embeddings\" array " + snippet(body, api_key));
        }
        break;
      case HttpApi::kTei:
        if (root.get_array().get(list) != simdjson::SUCCESS) {
          bad_response("something other than an array of embeddings " + snippet(body, api_key));
        }
        break;
    }
    check_count(list.size());
    std::size_t i = 0;
    for (simdjson::dom::element e : list) {
      read_vector(e, discovered, out[i], i);
      discovered = out[i].size();
      ++i;
    }
    return out;
  }

  std::vector<std::vector<float>> embed_batch(std::span<const std::string> texts) {
    for (std::size_t i = 0; i < texts.size(); ++i) {
      if (!is_valid_utf8(texts[i])) {
        throw InvalidArgument("text " + std::to_string(i) +
                              " is not valid UTF-8. Remediation: pass UTF-8 text to the embedder.");
      }
    }
    std::vector<std::vector<float>> out;
    out.reserve(texts.size());
    for (std::size_t at = 0; at < texts.size(); at += options.batch_size) {
      const std::size_t n = std::min(options.batch_size, texts.size() - at);
      for (auto& v : post(texts.subspan(at, n), dim)) out.push_back(std::move(v));
    }
    return out;
  }
};

HttpEmbedder::HttpEmbedder(HttpEmbedderOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {
  if (impl_->options.dim) {
    impl_->dim = *impl_->options.dim;
  } else {
    const std::string probe(kProbeText);
    impl_->dim = impl_->post(std::span<const std::string>(&probe, 1), 0).at(0).size();
  }
}

HttpEmbedder::~HttpEmbedder() = default;
HttpEmbedder::HttpEmbedder(const HttpEmbedder&) = default;
HttpEmbedder& HttpEmbedder::operator=(const HttpEmbedder&) = default;
HttpEmbedder::HttpEmbedder(HttpEmbedder&&) noexcept = default;
HttpEmbedder& HttpEmbedder::operator=(HttpEmbedder&&) noexcept = default;

std::size_t HttpEmbedder::dim() const noexcept { return impl_->dim; }

std::string HttpEmbedder::fingerprint() const {
  return std::string("http:") + to_string(impl_->options.api) + ":" + impl_->options.model + ":d" +
         std::to_string(impl_->dim);
}

std::vector<float> HttpEmbedder::embed(std::string_view text) const {
  const std::string owned(text);
  return std::move(impl_->embed_batch(std::span<const std::string>(&owned, 1)).at(0));
}

std::vector<std::vector<float>> HttpEmbedder::embed_batch(std::span<const std::string> texts) const {
  return impl_->embed_batch(texts);
}

const HttpEmbedderOptions& HttpEmbedder::options() const noexcept { return impl_->options; }

}  // namespace engram
