// multi_process_reader: several processes share one semantic cache.
//
// One writer process puts, updates and erases answers; three reader processes, each with its
// own SemanticCache (and its own in-memory index), print what they see as it changes. Readers
// poll the store's version counter (every CacheOptions::sync_interval) and apply its change
// feed, so they follow the writer without a restart and without re-reading everything.
//
//   multi_process_reader                      # a SQLite file in a temporary directory
//   multi_process_reader --redis 127.0.0.1:6379 [--prefix demo]   # a running redis-server
//
// Each process is a fork() of this program made before any cache exists (a cache owns a
// background thread, and threads do not survive fork()).

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "engram/embedders/hashing_embedder.hpp"
#include "engram/semantic_cache.hpp"
#include "engram/stores/sqlite_store.hpp"
#ifdef ENGRAM_EXAMPLE_WITH_REDIS
#include "engram/stores/redis_store.hpp"
#endif

namespace {

using namespace std::chrono_literals;

struct Setup {
  std::string sqlite_path;
  std::string redis_host;
  int redis_port = 0;
  std::string prefix = "multi-process-example";
};

// Questions the readers ask: two exact repeats and a paraphrase (semantic layer).
const std::vector<std::string> kQuestions = {
    "How do I reset my password?",
    "What are your opening hours?",
    "how do I reset my password, please?",
};

void say(const std::string& who, const std::string& what) {
  // One write(2) per line keeps lines of different processes from interleaving.
  std::string line = "[" + who + "] " + what + "\n";
  [[maybe_unused]] auto n = ::write(1, line.data(), line.size());
}

template <class Store>
void run_writer(Store store) {
  engram::SemanticCache cache(std::move(store), engram::HashingEmbedder{}, engram::CacheOptions{});
  std::this_thread::sleep_for(300ms);
  say("writer", "put: password answer v1");
  cache.put(kQuestions[0], "Use the 'Forgot password' link (v1).");
  std::this_thread::sleep_for(400ms);
  say("writer", "put: opening hours");
  cache.put(kQuestions[1], "9:00 to 17:00, Monday to Friday.");
  std::this_thread::sleep_for(400ms);
  say("writer", "upsert: password answer v2");
  cache.put(kQuestions[0], "Settings > Security > Reset password (v2).");
  std::this_thread::sleep_for(400ms);
  say("writer", "erase: opening hours");
  cache.erase(kQuestions[1]);
  std::this_thread::sleep_for(600ms);
  say("writer", "done");
}

template <class Store>
void run_reader(int n, Store store, engram::Millis sync_interval) {
  engram::CacheOptions options;
  options.sync_interval = sync_interval;
  engram::SemanticCache cache(std::move(store), engram::HashingEmbedder{}, options);
  const std::string who =
      "reader " + std::to_string(n) + ", sync every " + std::to_string(sync_interval.count()) + " ms";
  std::vector<std::string> last(kQuestions.size(), "?");
  const auto until = std::chrono::steady_clock::now() + 2500ms;
  while (std::chrono::steady_clock::now() < until) {
    for (std::size_t i = 0; i < kQuestions.size(); ++i) {
      auto hit = cache.get(kQuestions[i]);
      std::string seen = hit ? std::string(hit->layer == engram::Layer::kExact ? "exact" : "semantic") + " hit (" +
                                   std::to_string(hit->similarity).substr(0, 4) + "): " + hit->response
                             : "miss";
      if (seen != last[i]) {
        say(who, "\"" + kQuestions[i] + "\" -> " + seen);
        last[i] = seen;
      }
    }
    std::this_thread::sleep_for(20ms);
  }
  const auto stats = cache.stats();
  say(who, "done: " + std::to_string(stats.syncs) + " syncs, " + std::to_string(stats.rebuilds) + " rebuild(s)");
}

template <class MakeStore>
int run(MakeStore make_store) {
  { auto create = engram::SemanticCache(make_store(), engram::HashingEmbedder{}); }  // create the schema once
  std::vector<pid_t> children;
  const engram::Millis intervals[] = {engram::Millis(0), engram::Millis(100), engram::Millis(500)};
  for (int n = 0; n < 3; ++n) {
    pid_t pid = ::fork();
    if (pid == 0) {
      try {
        run_reader(n + 1, make_store(), intervals[n]);
      } catch (const std::exception& e) {
        say("reader " + std::to_string(n + 1), std::string("failed: ") + e.what());
        ::_exit(1);
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  int code = 0;
  try {
    run_writer(make_store());
  } catch (const std::exception& e) {
    say("writer", std::string("failed: ") + e.what());
    code = 1;
  }
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) code = 1;
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  Setup setup;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--redis" && i + 1 < argc) {
      std::string hp = argv[++i];
      auto colon = hp.rfind(':');
      setup.redis_host = hp.substr(0, colon);
      setup.redis_port = colon == std::string::npos ? 6379 : std::stoi(hp.substr(colon + 1));
    } else if (a == "--prefix" && i + 1 < argc) {
      setup.prefix = argv[++i];
    } else {
      std::cerr << "usage: multi_process_reader [--redis host:port [--prefix name]]\n";
      return 2;
    }
  }
  if (!setup.redis_host.empty()) {
#ifdef ENGRAM_EXAMPLE_WITH_REDIS
    engram::RedisOptions options;
    options.host = setup.redis_host;
    options.port = setup.redis_port;
    options.key_prefix = setup.prefix;
    {
      // Start from an empty cache so that the output reads the same on every run.
      engram::RedisStore store(options);
      store.open(engram::HashingEmbedder{}.fingerprint(), engram::HashingEmbedder{}.dim());
      for (const auto& ns : store.list_namespaces()) store.clear_namespace(ns);
    }
    say("main", "sharing a cache through Redis at " + options.describe());
    return run([&] { return engram::RedisStore(options); });
#else
    std::cerr << "this build has no RedisStore (configure with -DENGRAM_WITH_REDIS=ON)\n";
    return 2;
#endif
  }
  char pattern[] = "/tmp/engram-multi-process-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return 1;
  const std::filesystem::path db = std::filesystem::path(pattern) / "cache.db";
  say("main", "sharing a cache through the SQLite file " + db.string());
  const int code = run([&] { return engram::SqliteStore(db); });
  std::filesystem::remove_all(pattern);
  return code;
}
