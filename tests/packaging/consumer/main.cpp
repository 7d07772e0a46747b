// Uses every installed engram library once, so that a missing header, symbol or dependency in
// the installed package fails this build or this run: SemanticCache over SqliteStore (a real
// file), DictStore and AnyStore (open_store by URI), a RedisStore handle that must report an unreachable server, and an
// HttpEmbedder (behind a CachingEmbedder) that must report an unreachable service.
//   consumer DIR   (DIR: a scratch directory for the SQLite file)
#include <cstdio>
#include <filesystem>
#include <string>

#include "engram/embedders/caching_embedder.hpp"
#include "engram/embedders/http_embedder.hpp"
#include "engram/engram.hpp"
#include "engram/stores/any_store.hpp"
#include "engram/stores/dict_store.hpp"
#include "engram/stores/redis_store.hpp"
#include "engram/stores/sqlite_store.hpp"

namespace {

template <class Cache>
bool round_trip(Cache& cache, const char* label) {
  cache.put("How do I reset my password?", "Use the link on the sign-in page.");
  const auto hit = cache.get("how do I reset my password?");
  if (!hit || hit->response != "Use the link on the sign-in page.") {
    std::fprintf(stderr, "consumer: %s: the stored answer did not come back\n", label);
    return false;
  }
  std::printf("consumer: %s: %s hit\n", label, engram::to_string(hit->layer));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer SCRATCH_DIR\n");
    return 2;
  }
  try {
    const std::filesystem::path db = std::filesystem::path(argv[1]) / "consumer.db";
    engram::SemanticCache sqlite_cache(engram::SqliteStore(db), engram::HashingEmbedder{});
    engram::SemanticCache dict_cache(engram::DictStore{}, engram::HashingEmbedder{});
    if (!round_trip(sqlite_cache, "sqlite") || !round_trip(dict_cache, "dict")) return 1;
    // The same through engram::stores: a store chosen by URI at run time.
    engram::SemanticCache any_cache(engram::open_store("sqlite:" + (db.parent_path() / "any.db").string()),
                                    engram::HashingEmbedder{});
    if (!round_trip(any_cache, "open_store(sqlite:...)")) return 1;

    // Port 1 on loopback: nothing listens there, so open() must fail with StoreUnavailable.
    engram::RedisStore redis(engram::RedisOptions{.host = "127.0.0.1", .port = 1});
    try {
      redis.open("consumer", 8);
      std::fprintf(stderr, "consumer: redis: open() on a closed port succeeded\n");
      return 1;
    } catch (const engram::StoreUnavailable&) {
      std::printf("consumer: redis: unreachable server reported as StoreUnavailable\n");
    }

    // The same port for an embedding service: embed() must fail with EmbedderUnavailable.
    engram::CachingEmbedder http(engram::HttpEmbedder(engram::HttpEmbedderOptions{.api = engram::HttpApi::kOpenAI,
                                                                                  .base_url = "http://127.0.0.1:1",
                                                                                  .model = "m",
                                                                                  .dim = 8,
                                                                                  .max_retries = 0}),
                                 /*max_bytes=*/1 << 20);
    try {
      (void)http.embed("hello");
      std::fprintf(stderr, "consumer: http: embed() against a closed port succeeded\n");
      return 1;
    } catch (const engram::EmbedderUnavailable&) {
      std::printf("consumer: http: unreachable service reported as EmbedderUnavailable (%s)\n",
                  http.fingerprint().c_str());
    }
  } catch (const engram::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
  return 0;
}
