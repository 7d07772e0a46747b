// engram_cache_worker: one SemanticCache in its own process, driven line by line over
// stdin/stdout by the multi-process tests (multi_process_cache_test.cpp). Each request is one
// line of tab-separated fields; each answer is one line.
//
//   usage: engram_cache_worker store=redis port=P [password=X] prefix=PFX | store=sqlite path=F
//                              [sync_ms=N] [retention=N]
//
//   put NS QUERY RESPONSE EMB TTL_MS   -> ok ID            (EMB -1: embed the query; TTL_MS -1: none)
//   get NS QUERY EMB                   -> hit exact|semantic ID RESPONSE | miss REASON
//   erase NS QUERY                     -> ok 0|1
//   clear NS | vacuum | quota NS N | sync | flush
//   size NS                            -> ok N              (NS "*": every namespace)
//   bulk NS TAG N                      -> ok ID ID ...      (puts TAG-0 .. TAG-(N-1))
//   stats                              -> ok SYNCS REBUILDS ERROR_MISSES
//   quit
//
// Any exception becomes "err CLASS MESSAGE". EMB k >= 0 supplies the unit vector along axis k
// (so semantic lookups are exact and independent of the embedder).

#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engram/embedders/hashing_embedder.hpp"
#include "engram/errors.hpp"
#include "engram/semantic_cache.hpp"
#include "engram/stores/redis_store.hpp"
#include "engram/stores/sqlite_store.hpp"

namespace {

constexpr std::size_t kDim = 64;

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, '\t')) out.push_back(field);
  return out;
}

std::vector<float> axis(int k) {
  std::vector<float> v(kDim, 0.0f);
  v[static_cast<std::size_t>(k) % kDim] = 1.0f;
  return v;
}

const char* error_class(const std::exception& e) {
  if (dynamic_cast<const engram::StoreUnavailable*>(&e)) return "StoreUnavailable";
  if (dynamic_cast<const engram::StoreCorrupt*>(&e)) return "StoreCorrupt";
  if (dynamic_cast<const engram::StoreError*>(&e)) return "StoreError";
  if (dynamic_cast<const engram::InvalidArgument*>(&e)) return "InvalidArgument";
  if (dynamic_cast<const engram::Error*>(&e)) return "Error";
  return "std::exception";
}

template <class Cache>
std::string handle(Cache& cache, const std::vector<std::string>& f) {
  const std::string& cmd = f.at(0);
  if (cmd == "put") {
    engram::PutOptions o;
    o.ns = f.at(1);
    if (int emb = std::stoi(f.at(4)); emb >= 0) o.embedding = axis(emb);
    if (long long ttl = std::stoll(f.at(5)); ttl >= 0) o.ttl = engram::Millis(ttl);
    return "ok\t" + std::to_string(cache.put(f.at(2), f.at(3), o));
  }
  if (cmd == "get") {
    engram::GetOptions o;
    o.ns = f.at(1);
    if (int emb = std::stoi(f.at(3)); emb >= 0) o.embedding = axis(emb);
    auto hit = cache.get(f.at(2), o);
    if (!hit) return "miss";
    return std::string("hit\t") + (hit->layer == engram::Layer::kExact ? "exact" : "semantic") + "\t" +
           std::to_string(hit->id) + "\t" + hit->response;
  }
  if (cmd == "erase") return std::string("ok\t") + (cache.erase(f.at(2), f.at(1)) ? "1" : "0");
  if (cmd == "clear") return "ok\t" + std::to_string(cache.clear_namespace(f.at(1)));
  if (cmd == "vacuum") return "ok\t" + std::to_string(cache.vacuum());
  if (cmd == "quota") {
    cache.set_namespace_quota(f.at(1), std::stoull(f.at(2)));
    return "ok";
  }
  if (cmd == "sync") {
    cache.sync();
    return "ok";
  }
  if (cmd == "flush") {
    cache.flush();
    return "ok";
  }
  if (cmd == "size") {
    return "ok\t" + std::to_string(f.at(1) == "*" ? cache.size() : cache.size(std::string_view(f.at(1))));
  }
  if (cmd == "bulk") {
    engram::PutOptions o;
    o.ns = f.at(1);
    std::string out = "ok";
    const int n = std::stoi(f.at(3));
    for (int i = 0; i < n; ++i) {
      const std::string q = f.at(2) + "-" + std::to_string(i);
      out += "\t" + std::to_string(cache.put(q, "response " + q, o));
    }
    return out;
  }
  if (cmd == "stats") {
    auto s = cache.stats();
    return "ok\t" + std::to_string(s.syncs) + "\t" + std::to_string(s.rebuilds) + "\t" +
           std::to_string(s.total.misses(engram::MissReason::kError));
  }
  return "err\tusage\tunknown command " + cmd;
}

template <class Store>
int serve(Store store, engram::Millis sync_interval) {
  engram::CacheOptions options;
  options.sync_interval = sync_interval;
  options.similarity_threshold = 0.9;
  engram::SemanticCache<Store> cache(std::move(store), engram::HashingEmbedder(kDim), options);
  std::cout << "ready" << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    auto fields = split(line);
    if (fields.empty()) continue;
    if (fields[0] == "quit") break;
    std::string reply;
    try {
      reply = handle(cache, fields);
    } catch (const std::exception& e) {
      std::string what = e.what();
      for (auto& c : what)
        if (c == '\n' || c == '\t') c = ' ';
      reply = std::string("err\t") + error_class(e) + "\t" + what;
    }
    std::cout << reply << std::endl;
  }
  cache.close();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (eq == std::string::npos) {
      std::cerr << "bad argument " << a << "\n";
      return 2;
    }
    args[a.substr(0, eq)] = a.substr(eq + 1);
  }
  auto arg = [&](const std::string& k, const std::string& def = "") { return args.count(k) ? args[k] : def; };
  const engram::Millis sync(std::stoll(arg("sync_ms", "0")));
  const std::size_t retention = std::stoull(arg("retention", "100000"));
  try {
    if (arg("store") == "redis") {
      engram::RedisOptions o;
      o.port = std::stoi(arg("port"));
      o.password = arg("password");
      o.key_prefix = arg("prefix");
      o.change_feed_retention = retention;
      o.command_timeout = engram::Millis(10000);
      return serve(engram::RedisStore(o), sync);
    }
    if (arg("store") == "sqlite") {
      engram::SqliteOptions o;
      o.change_log_retention = retention;
      return serve(engram::SqliteStore(arg("path"), o), sync);
    }
    std::cerr << "store=redis|sqlite required\n";
    return 2;
  } catch (const std::exception& e) {
    std::cout << "err\t" << error_class(e) << "\t" << e.what() << std::endl;
    return 1;
  }
}
