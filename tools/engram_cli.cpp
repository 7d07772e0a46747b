// engram: a command-line tool for a SqliteStore cache file.
//
//   engram info     DB                         entries, namespaces, embedder, health
//   engram get      DB QUERY [--ns NS] [--threshold X]
//   engram put      DB QUERY RESPONSE [--ns NS] [--ttl-ms N] [--metadata JSON]
//   engram erase    DB QUERY [--ns NS]
//   engram vacuum   DB                         delete expired entries
//   engram clear    DB NS                      delete every entry of a namespace
//   engram quota    DB NS [MAX]                show or set a namespace quota
//   engram snapshot DB OUT                     consistent copy, taken live
//   engram maintain DB KIND                    analyze | compact | checkpoint
//
// get/put/erase embed with HashingEmbedder and need a store created with it; info, vacuum,
// clear, quota, snapshot and maintain work on any engram SQLite file (they use the store's
// recorded fingerprint and dimension). Exit status: 0 ok, 1 error, 2 usage, 3 get missed.

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "engram/engram.hpp"
#include "engram/stores/sqlite_store.hpp"

namespace {

struct Command {
  std::vector<std::string> args;             // positional
  std::map<std::string, std::string> flags;  // --name value
};

[[noreturn]] void usage() {
  std::fputs(
      "usage: engram info|get|put|erase|vacuum|clear|quota|snapshot|maintain DB ...\n"
      "  get DB QUERY [--ns NS] [--threshold X]\n"
      "  put DB QUERY RESPONSE [--ns NS] [--ttl-ms N] [--metadata JSON]\n"
      "  erase DB QUERY [--ns NS] | clear DB NS | quota DB NS [MAX]\n"
      "  vacuum DB | snapshot DB OUT | maintain DB analyze|compact|checkpoint\n",
      stderr);
  std::exit(2);  // NOLINT(concurrency-mt-unsafe): exits during argument parsing, before any thread starts
}

Command parse(int argc, char** argv) {
  Command c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      if (i + 1 >= argc) usage();
      c.flags[a.substr(2)] = argv[++i];
    } else {
      c.args.push_back(std::move(a));
    }
  }
  if (c.args.size() < 2) usage();
  return c;
}

// An embedder that only reports the identity recorded in the store: enough for every
// operation that never embeds text.
struct RecordedEmbedder {
  std::size_t dimension;
  std::string print;
  std::size_t dim() const { return dimension; }
  std::string fingerprint() const { return print; }
  std::vector<float> embed(std::string_view) const {
    throw engram::InvalidArgument(
        "this command cannot embed text. Remediation: use get/put on a HashingEmbedder store.");
  }
};

template <class Cache>
int print_hit(Cache& cache, const Command& c) {
  engram::GetOptions options{.ns = c.flags.count("ns") ? c.flags.at("ns") : ""};
  if (c.flags.count("threshold")) options.threshold = std::atof(c.flags.at("threshold").c_str());
  auto hit = cache.get(c.args.at(2), options);
  if (!hit) {
    std::puts("miss");
    return 3;
  }
  std::printf("%s hit, similarity %.4f, id %lld, age %lld ms\nquery: %s\nmetadata: %s\n%s\n",
              engram::to_string(hit->layer), hit->similarity, static_cast<long long>(hit->id),
              static_cast<long long>(hit->age.count()), hit->matched_query.c_str(), hit->metadata.c_str(),
              hit->response.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Command c = parse(argc, argv);
  const std::string& verb = c.args[0];
  const std::string& db = c.args[1];
  const std::string ns = c.flags.count("ns") ? c.flags.at("ns") : "";
  try {
    if (verb == "get" || verb == "put" || verb == "erase") {
      if (c.args.size() < (verb == "put" ? 4u : 3u)) usage();
      engram::SemanticCache cache(engram::SqliteStore(db), engram::HashingEmbedder{});
      if (verb == "get") return print_hit(cache, c);
      if (verb == "erase") {
        std::puts(cache.erase(c.args[2], ns) ? "erased" : "not found");
        return 0;
      }
      engram::PutOptions options{.ns = ns};
      if (c.flags.count("metadata")) options.metadata = c.flags.at("metadata");
      if (c.flags.count("ttl-ms")) options.ttl = engram::Millis(std::atoll(c.flags.at("ttl-ms").c_str()));
      std::printf("stored id %lld\n", static_cast<long long>(cache.put(c.args[2], c.args[3], options)));
      return 0;
    }

    // Store-level commands: open with the identity the file records.
    const auto identity = engram::SqliteStore::recorded_identity(db);
    if (!identity) {
      std::fprintf(stderr, "engram: %s is not an initialized engram database\n", db.c_str());
      return 1;
    }
    engram::SemanticCache cache(engram::SqliteStore(db), RecordedEmbedder{identity->dim, identity->fingerprint});
    if (verb == "info") {
      const engram::Health h = cache.health();
      const engram::Stats s = cache.stats();
      std::printf("file: %s\nembedder: %s (dim %zu)\nschema version: %d\nintegrity: %s\nentries: %zu\n", db.c_str(),
                  identity->fingerprint.c_str(), identity->dim, h.schema_version, h.integrity_ok ? "ok" : "FAILED",
                  h.entries);
      for (const auto& [name, n] : s.by_namespace) {
        if (n.entries == 0) continue;
        const auto quota = cache.namespace_quota(name);
        std::printf("  namespace \"%s\": %zu entries%s\n", name.c_str(), n.entries,
                    quota ? (", quota " + std::to_string(*quota)).c_str() : "");
      }
      return h.integrity_ok ? 0 : 1;
    }
    if (verb == "vacuum") {
      std::printf("removed %zu expired entries\n", cache.vacuum());
    } else if (verb == "clear" && c.args.size() == 3) {
      std::printf("removed %zu entries\n", cache.clear_namespace(c.args[2]));
    } else if (verb == "quota" && (c.args.size() == 3 || c.args.size() == 4)) {
      if (c.args.size() == 4) cache.set_namespace_quota(c.args[2], std::strtoull(c.args[3].c_str(), nullptr, 10));
      const auto quota = cache.namespace_quota(c.args[2]);
      std::printf("quota of \"%s\": %s\n", c.args[2].c_str(), quota ? std::to_string(*quota).c_str() : "none");
    } else if (verb == "snapshot" && c.args.size() == 3) {
      cache.snapshot_to(c.args[2]);
      std::printf("snapshot written to %s\n", c.args[2].c_str());
    } else if (verb == "maintain" && c.args.size() == 3) {
      cache.run_maintenance(c.args[2]);
      std::printf("%s done\n", c.args[2].c_str());
    } else {
      usage();
    }
    return 0;
  } catch (const engram::Error& e) {
    std::fprintf(stderr, "engram: %s\n", e.what());
    return 1;
  }
}
