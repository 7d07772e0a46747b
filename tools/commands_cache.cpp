// info, stats, inspect, get, put, erase, vacuum, clear, quota, snapshot, restore, maintain.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "embedder_choice.hpp"
#include "engram/engram.hpp"
#include "engram/hash.hpp"
#include "engram/prometheus.hpp"
#include "engram/stores/any_store.hpp"
#include "jsonl_format.hpp"
#include "tool_common.hpp"

namespace engram::tool {

namespace {

// An embedder that only reports the identity the store records: enough for every command
// that never embeds text.
struct RecordedEmbedder {
  StoreIdentity identity;
  std::size_t dim() const { return identity.dim; }
  std::string fingerprint() const { return identity.fingerprint; }
  std::vector<float> embed(std::string_view /*text*/) const {
    throw InvalidArgument("this command cannot embed text. Remediation: use get/put with --embedder.");
  }
};

CLI::App* add_command(CLI::App& app, const char* name, const char* description) {
  return app.add_subcommand(name, description);
}

void add_store_positional(CLI::App* cmd, std::string& target, const char* name = "STORE") {
  cmd->add_option(name, target, "store URI: sqlite:PATH (or PATH), redis://host[:port][/db][?prefix=P], dict:NAME")
      ->required()
      ->check(store_uri_check());
}

std::string schema_of(const AnyStore& store) { return store.read_meta("schema_version").value_or("-"); }

// The embedder for get/put: --embedder when given, else the store's own when it is hashing.
AnyEmbedder choose_embedder(const CLI::App* cmd, const EmbedderChoice& choice,
                            const std::optional<StoreIdentity>& recorded) {
  if (cmd->count("--embedder") > 0 || !recorded) return make_embedder(choice);
  const std::string prefix = "engram:hashing:";
  if (recorded->fingerprint.rfind(prefix, 0) == 0) {
    EmbedderChoice hashing = choice;
    hashing.kind = "hashing";
    hashing.dim = recorded->dim;
    AnyEmbedder e = make_embedder(hashing);
    if (e.fingerprint() == recorded->fingerprint) return e;
  }
  throw InvalidArgument("the store was created by embedder " + recorded->fingerprint + " (dim " +
                        std::to_string(recorded->dim) + "). Remediation: pass --embedder (and its options) naming it.");
}

std::string stats_json(const Stats& s) {
  auto ns_json = [](const NamespaceStats& n) {
    std::string o = "{\"entries\":" + std::to_string(n.entries) + ",\"hits_exact\":" + std::to_string(n.hits_exact) +
                    ",\"hits_semantic\":" + std::to_string(n.hits_semantic) + ",\"puts\":" + std::to_string(n.puts) +
                    ",\"evictions\":" + std::to_string(n.evictions) +
                    ",\"expirations\":" + std::to_string(n.expirations) +
                    ",\"index_memory_bytes\":" + std::to_string(n.index_memory_bytes) +
                    ",\"index_unlinked\":" + std::to_string(n.index_unlinked) + ",\"index_layout\":\"" +
                    n.index_layout + "\",\"misses\":{";
    for (std::size_t r = 0; r < kMissReasonCount; ++r) {
      if (r > 0) o += ',';
      o += std::string("\"") + to_string(static_cast<MissReason>(r)) + "\":" + std::to_string(n.misses_by_reason[r]);
    }
    o += "},\"guarded_by_reason\":{";
    bool first = true;
    for (const auto& [reason, count] : n.guarded_by_reason) {
      if (!first) o += ',';
      first = false;
      append_json_string(o, reason);
      o += ":" + std::to_string(count);
    }
    return o + "}}";
  };
  auto latency = [](const LatencySummary& l) {
    return "{\"count\":" + std::to_string(l.count) + ",\"p50_us\":" + std::to_string(l.p50_us) +
           ",\"p99_us\":" + std::to_string(l.p99_us) + ",\"max_us\":" + std::to_string(l.max_us) + "}";
  };
  std::string out = "{\"total\":" + ns_json(s.total) + ",\"namespaces\":{";
  bool first = true;
  for (const auto& [name, n] : s.by_namespace) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, name);
    out += ":" + ns_json(n);
  }
  out += "},\"syncs\":" + std::to_string(s.syncs) + ",\"rebuilds\":" + std::to_string(s.rebuilds) +
         ",\"errors\":" + std::to_string(s.errors) + ",\"quarantined\":" + std::to_string(s.quarantined) +
         ",\"response_cache_bytes\":" + std::to_string(s.response_cache_bytes) +
         ",\"exact_map_entries\":" + std::to_string(s.exact_map_entries) +
         ",\"exact_map_bytes\":" + std::to_string(s.exact_map_bytes) + ",\"get_latency\":" + latency(s.get_latency) +
         ",\"put_latency\":" + latency(s.put_latency) + "}";
  return out;
}

std::string entry_text(const StoredEntry& e, std::int64_t now) {
  std::string ttl = e.ttl ? std::to_string(e.ttl->count()) + " ms" : "none";
  if (e.expired_at(Timestamp(Millis(now)))) ttl += " (expired)";
  auto shorten = [](const std::string& s) {
    std::string o;
    for (char c : s.substr(0, 70)) o += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    return s.size() > 70 ? o + "..." : o;
  };
  return "#" + std::to_string(e.id) + " ns \"" + shorten(e.ns) + "\" hash " + e.query_hash.hex() +
         "\n    query: " + shorten(e.query) + "\n    response: " + shorten(e.response) +
         "\n    metadata: " + shorten(e.metadata) + "\n    created_at_ms " +
         std::to_string(e.created_at.time_since_epoch().count()) + ", last_accessed_at_ms " +
         std::to_string(e.last_accessed_at.time_since_epoch().count()) + ", ttl " + ttl + ", accesses " +
         std::to_string(e.access_count) + ", dim " + std::to_string(e.embedding.size()) + "\n";
}

// ---- info ------------------------------------------------------------------------------

void add_info(CLI::App& app, int& exit_code) {
  struct Opts {
    std::string store;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = add_command(app, "info", "Backend, embedder identity, schema version, integrity, namespaces");
  add_store_positional(cmd, o->store);
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->callback([o, &exit_code] {
    run_guarded(exit_code, [&] {
      AnyStore store = open_existing(o->store);
      const auto identity = *store.recorded_identity();
      const bool ok = store.integrity_check();
      const auto namespaces = store.list_namespaces();
      if (o->json) {
        std::string out =
            "{\"store\":" + json_string(store.description()) + ",\"backend\":" + json_string(store.backend()) +
            ",\"fingerprint\":" + json_string(identity.fingerprint) + ",\"dim\":" + std::to_string(identity.dim) +
            ",\"schema_version\":" + json_string(schema_of(store)) + ",\"integrity_ok\":" + (ok ? "true" : "false") +
            ",\"entries\":" + std::to_string(store.count()) +
            ",\"version\":" + std::to_string(store.read_version_counter()) + ",\"namespaces\":[";
        for (std::size_t i = 0; i < namespaces.size(); ++i) {
          const auto quota = store.get_namespace_quota(namespaces[i]);
          out += (i ? "," : "") + std::string("{\"name\":") + json_string(namespaces[i]) +
                 ",\"entries\":" + std::to_string(store.count(namespaces[i])) +
                 ",\"quota\":" + (quota ? std::to_string(*quota) : "null") + "}";
        }
        std::printf("%s]}\n", out.c_str());
      } else {
        std::printf("store: %s (%s)\nembedder: %s (dim %zu)\nschema version: %s\nintegrity: %s\nentries: %zu\n",
                    store.description().c_str(), store.backend(), identity.fingerprint.c_str(), identity.dim,
                    schema_of(store).c_str(), ok ? "ok" : "FAILED", store.count());
        for (const std::string& ns : namespaces) {
          const auto quota = store.get_namespace_quota(ns);
          std::printf("  namespace \"%s\": %zu entries%s\n", ns.c_str(), store.count(ns),
                      quota ? (", quota " + std::to_string(*quota)).c_str() : "");
        }
      }
      store.close();
      return ok ? kExitOk : kExitError;
    });
  });
}

// ---- stats -----------------------------------------------------------------------------

void add_stats(CLI::App& app, int& exit_code) {
  struct Opts {
    std::string store;
    bool json = false, prometheus = false;
    std::vector<std::string> labels;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      add_command(app, "stats", "Cache statistics of the store as a fresh cache sees it (entries, index memory, ...)");
  add_store_positional(cmd, o->store);
  auto* json = cmd->add_flag("--json", o->json, "print one JSON object");
  auto* prom = cmd->add_flag("--prometheus", o->prometheus, "print the Prometheus text exposition (format 0.0.4)");
  json->excludes(prom);
  cmd->add_option("--label", o->labels, "NAME=VALUE added to every Prometheus sample (repeatable)");
  cmd->callback([o, &exit_code] {
    run_guarded(exit_code, [&] {
      std::map<std::string, std::string> labels;
      for (const std::string& l : o->labels) {
        const auto eq = l.find('=');
        if (eq == std::string::npos) throw InvalidArgument("--label '" + l + "' is not NAME=VALUE. Remediation: a=b");
        labels[l.substr(0, eq)] = l.substr(eq + 1);
      }
      AnyStore store = open_store(o->store, StoreUriOptions{.must_exist = true});
      const auto identity = *store.recorded_identity();
      SemanticCache cache(std::move(store), RecordedEmbedder{identity});
      const Stats s = cache.stats();
      if (o->prometheus) {
        std::fputs(to_prometheus(s, labels).c_str(), stdout);
      } else if (o->json) {
        std::printf("%s\n", stats_json(s).c_str());
      } else {
        std::printf("entries: %zu\nindex memory: %zu bytes\nexact map: %zu entries, %zu bytes\n", s.total.entries,
                    s.total.index_memory_bytes, s.exact_map_entries, s.exact_map_bytes);
        for (const auto& [name, n] : s.by_namespace)
          std::printf("  namespace \"%s\": %zu entries, index %zu bytes\n", name.c_str(), n.entries,
                      n.index_memory_bytes);
      }
      return kExitOk;
    });
  });
}

// ---- inspect ---------------------------------------------------------------------------

void add_inspect(CLI::App& app, int& exit_code) {
  struct Opts {
    std::string store, ns, query;
    bool has_ns = false, json = false;
    std::uint64_t after_id = 0, limit = 20;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = add_command(app, "inspect",
                          "Namespaces, counts, quotas, embedder, schema, maintenance state; entries by id page or "
                          "looked up by query");
  add_store_positional(cmd, o->store);
  cmd->add_option("--ns", o->ns, "only this namespace (entries and the query lookup)");
  add_uint_option(*cmd, "--after-id", o->after_id, "list entries with id greater than N (default 0)");
  add_uint_option(*cmd, "--limit", o->limit, "at most N entries (default 20; 0: none)", 0, 1000000);
  cmd->add_option("--query", o->query, "look up the entry stored for this query (exact, by normalized hash)");
  cmd->add_flag("--json", o->json, "print one JSON object (entries in the export line format)");
  cmd->callback([o, cmd, &exit_code] {
    run_guarded(exit_code, [&] {
      o->has_ns = cmd->count("--ns") > 0;
      AnyStore store = open_existing(o->store);
      const auto identity = *store.recorded_identity();
      std::vector<StoredEntry> entries;
      bool lookup_miss = false;
      if (cmd->count("--query") > 0) {
        if (auto e = store.get_by_hash(o->ns, hash_query(o->query))) entries.push_back(std::move(*e));
        else lookup_miss = true;
      } else if (o->limit > 0) {
        store.iter_since(static_cast<EntryId>(o->after_id), [&](const StoredEntry& e) {
          if (o->has_ns && e.ns != o->ns) return true;
          entries.push_back(e);
          return entries.size() < o->limit;
        });
      }
      const auto state = store.maintenance_state();
      const auto kinds = store.maintenance_kinds();
      const auto namespaces = store.list_namespaces();
      if (o->json) {
        std::string out =
            "{\"store\":" + json_string(store.description()) + ",\"backend\":" + json_string(store.backend()) +
            ",\"fingerprint\":" + json_string(identity.fingerprint) + ",\"dim\":" + std::to_string(identity.dim) +
            ",\"schema_version\":" + json_string(schema_of(store)) + ",\"entries\":" + std::to_string(store.count()) +
            ",\"version\":" + std::to_string(store.read_version_counter()) + ",\"namespaces\":[";
        for (std::size_t i = 0; i < namespaces.size(); ++i) {
          const auto quota = store.get_namespace_quota(namespaces[i]);
          out += (i ? "," : "") + std::string("{\"name\":") + json_string(namespaces[i]) +
                 ",\"entries\":" + std::to_string(store.count(namespaces[i])) +
                 ",\"quota\":" + (quota ? std::to_string(*quota) : "null") + "}";
        }
        out += "],\"maintenance_kinds\":[";
        for (std::size_t i = 0; i < kinds.size(); ++i) out += (i ? "," : "") + json_string(kinds[i]);
        out += "],\"maintenance_state\":{";
        bool first = true;
        for (const auto& [k, v] : state) {
          out += (first ? "" : ",") + json_string(k) + ":" + json_string(v);
          first = false;
        }
        out += "},\"page\":[";
        for (std::size_t i = 0; i < entries.size(); ++i) {
          if (i > 0) out += ',';
          encode_entry(entries[i], out);
        }
        out += "],\"next_after_id\":" + (entries.empty() ? std::string("null") : std::to_string(entries.back().id));
        std::printf("%s}\n", out.c_str());
      } else {
        std::printf("store: %s (%s)\nembedder: %s (dim %zu)\nschema version: %s\nentries: %zu, version %llu\n",
                    store.description().c_str(), store.backend(), identity.fingerprint.c_str(), identity.dim,
                    schema_of(store).c_str(), store.count(),
                    static_cast<unsigned long long>(store.read_version_counter()));
        for (const std::string& ns : namespaces) {
          const auto quota = store.get_namespace_quota(ns);
          std::printf("  namespace \"%s\": %zu entries, quota %s\n", ns.c_str(), store.count(ns),
                      quota ? std::to_string(*quota).c_str() : "none");
        }
        std::printf("maintenance kinds:");
        for (const auto& k : kinds) std::printf(" %s", k.c_str());
        std::printf("%s\nmaintenance state:\n", kinds.empty() ? " (none)" : "");
        for (const auto& [k, v] : state) std::printf("  %s: %s\n", k.c_str(), v.c_str());
        if (lookup_miss) std::printf("no entry for that query\n");
        const std::int64_t now = now_ms();
        for (const StoredEntry& e : entries) std::fputs(entry_text(e, now).c_str(), stdout);
        if (!entries.empty() && cmd->count("--query") == 0)
          std::printf("next page: --after-id %lld\n", static_cast<long long>(entries.back().id));
      }
      return lookup_miss ? kExitMiss : kExitOk;
    });
  });
}

// ---- get / put / erase -------------------------------------------------------------------

void add_get_put_erase(CLI::App& app, int& exit_code) {
  struct Opts {
    std::string store, query, response, ns, metadata = "{}";
    double threshold = 0;
    std::uint64_t ttl_ms = 0;
    bool json = false;
    EmbedderChoice embedder;
  };
  auto g = std::make_shared<Opts>();
  auto* get = add_command(app, "get", "Look a query up (exact, then semantic); exit 3 on a miss");
  add_store_positional(get, g->store);
  get->add_option("QUERY", g->query, "the query")->required();
  get->add_option("--ns", g->ns, "namespace (default \"\")");
  add_double_option(*get, "--threshold", g->threshold, "cosine similarity threshold", -1.0, 1.0);
  get->add_flag("--json", g->json, "print the hit as one JSON object");
  add_embedder_options(*get, g->embedder);
  get->callback([g, get, &exit_code] {
    run_guarded(exit_code, [&] {
      AnyStore store = open_store(g->store, StoreUriOptions{.must_exist = true});
      AnyEmbedder embedder = choose_embedder(get, g->embedder, store.recorded_identity());
      SemanticCache cache(std::move(store), std::move(embedder));
      GetOptions options{.ns = g->ns};
      if (get->count("--threshold") > 0) options.threshold = g->threshold;
      const auto hit = cache.get(g->query, options);
      if (!hit) {
        std::puts(g->json ? "{\"hit\":false}" : "miss");
        return kExitMiss;
      }
      if (g->json) {
        char sim[64];
        std::snprintf(sim, sizeof sim, "%.6f", hit->similarity);
        std::printf(
            "{\"hit\":true,\"layer\":\"%s\",\"similarity\":%s,\"id\":%lld,\"age_ms\":%lld,\"ns\":%s,"
            "\"matched_query\":%s,\"metadata\":%s,\"response\":%s}\n",
            to_string(hit->layer), sim, static_cast<long long>(hit->id), static_cast<long long>(hit->age.count()),
            json_string(hit->ns).c_str(), json_string(hit->matched_query).c_str(), json_string(hit->metadata).c_str(),
            json_string(hit->response).c_str());
      } else {
        std::printf("%s hit, similarity %.4f, id %lld, age %lld ms\nquery: %s\nmetadata: %s\n%s\n",
                    to_string(hit->layer), hit->similarity, static_cast<long long>(hit->id),
                    static_cast<long long>(hit->age.count()), hit->matched_query.c_str(), hit->metadata.c_str(),
                    hit->response.c_str());
      }
      return kExitOk;
    });
  });

  auto p = std::make_shared<Opts>();
  auto* put = add_command(app, "put", "Store a response for a query (creates the store if missing)");
  add_store_positional(put, p->store);
  put->add_option("QUERY", p->query, "the query")->required();
  put->add_option("RESPONSE", p->response, "the response")->required();
  put->add_option("--ns", p->ns, "namespace (default \"\")");
  put->add_option("--metadata", p->metadata, "a JSON object (default {})");
  add_uint_option(*put, "--ttl-ms", p->ttl_ms, "time to live in milliseconds", 1, INT64_MAX);
  add_embedder_options(*put, p->embedder);
  put->callback([p, put, &exit_code] {
    run_guarded(exit_code, [&] {
      AnyStore store = open_store(p->store);
      AnyEmbedder embedder = choose_embedder(put, p->embedder, store.recorded_identity());
      SemanticCache cache(std::move(store), std::move(embedder));
      PutOptions options{.ns = p->ns, .metadata = p->metadata};
      if (put->count("--ttl-ms") > 0) options.ttl = Millis(static_cast<std::int64_t>(p->ttl_ms));
      std::printf("stored id %lld\n", static_cast<long long>(cache.put(p->query, p->response, options)));
      return kExitOk;
    });
  });

  auto e = std::make_shared<Opts>();
  auto* erase = add_command(app, "erase", "Remove the entry stored for a query (exact match)");
  add_store_positional(erase, e->store);
  erase->add_option("QUERY", e->query, "the query")->required();
  erase->add_option("--ns", e->ns, "namespace (default \"\")");
  erase->callback([e, &exit_code] {
    run_guarded(exit_code, [&] {
      AnyStore store = open_existing(e->store);
      const auto entry = store.get_by_hash(e->ns, hash_query(e->query));
      const bool erased = entry && store.delete_by_id(entry->id);
      std::puts(erased ? "erased" : "not found");
      return kExitOk;
    });
  });
}

// ---- vacuum / clear / quota / snapshot / restore / maintain ------------------------------

void add_store_commands(CLI::App& app, int& exit_code) {
  struct Opts {
    std::string store, ns, out, kind, max_text;
    std::uint64_t max = 0;
  };
  auto v = std::make_shared<Opts>();
  auto* vacuum = add_command(app, "vacuum", "Delete expired entries");
  add_store_positional(vacuum, v->store);
  vacuum->callback([v, &exit_code] {
    run_guarded(exit_code, [&] {
      AnyStore store = open_existing(v->store);
      std::printf("removed %zu expired entries\n", store.delete_expired(Timestamp(Millis(now_ms()))));
      return kExitOk;
    });
  });

  auto c = std::make_shared<Opts>();
  auto* clear = add_command(app, "clear", "Delete every entry of a namespace");
  add_store_positional(clear, c->store);
  clear->add_option("NS", c->ns, "the namespace")->required();
  clear->callback([c, &exit_code] {
    run_guarded(exit_code, [&] {
      AnyStore store = open_existing(c->store);
      std::printf("removed %zu entries\n", store.clear_namespace(c->ns));
      return kExitOk;
    });
  });

  auto q = std::make_shared<Opts>();
  auto* quota = add_command(app, "quota", "Show or set a namespace's entry quota (enforced by caches on put)");
  add_store_positional(quota, q->store);
  quota->add_option("NS", q->ns, "the namespace")->required();
  add_uint_option(*quota, "MAX", q->max, "the new quota (entries)");
  quota->callback([q, quota, &exit_code] {
    run_guarded(exit_code, [&] {
      AnyStore store = open_existing(q->store);
      if (quota->count("MAX") > 0) store.set_namespace_quota(q->ns, q->max);
      const auto value = store.get_namespace_quota(q->ns);
      std::printf("quota of \"%s\": %s\n", q->ns.c_str(), value ? std::to_string(*value).c_str() : "none");
      return kExitOk;
    });
  });

  auto s = std::make_shared<Opts>();
  auto* snapshot = add_command(app, "snapshot", "Write a consistent copy of the store, taken live (backend format)");
  add_store_positional(snapshot, s->store);
  snapshot->add_option("OUT", s->out, "the snapshot file")->required();
  snapshot->callback([s, &exit_code] {
    run_guarded(exit_code, [&] {
      AnyStore store = open_existing(s->store);
      store.snapshot_to(s->out);
      std::printf("snapshot written to %s\n", s->out.c_str());
      return kExitOk;
    });
  });

  auto r = std::make_shared<Opts>();
  auto* restore =
      add_command(app, "restore", "Replace the store's content with a snapshot of the same backend (verified first)");
  restore->add_option("SNAPSHOT", r->out, "the snapshot file")->required()->check(CLI::ExistingFile);
  add_store_positional(restore, r->store);
  restore->callback([r, &exit_code] {
    run_guarded(exit_code, [&] {
      AnyStore store = AnyStore::restore_from(r->out, r->store);
      store.open_recorded();
      std::printf("restored %s into %s: %zu entries\n", r->out.c_str(), store.description().c_str(), store.count());
      return kExitOk;
    });
  });

  auto m = std::make_shared<Opts>();
  auto* maintain = add_command(app, "maintain", "Run one maintenance kind the store offers (see inspect)");
  add_store_positional(maintain, m->store);
  maintain->add_option("KIND", m->kind, "e.g. analyze, checkpoint, compact")->required();
  maintain->callback([m, &exit_code] {
    run_guarded(exit_code, [&] {
      AnyStore store = open_existing(m->store);
      store.run_maintenance(m->kind);
      std::printf("%s done\n", m->kind.c_str());
      return kExitOk;
    });
  });
}

}  // namespace

void add_cache_commands(CLI::App& app, int& exit_code) {
  add_info(app, exit_code);
  add_stats(app, exit_code);
  add_inspect(app, exit_code);
  add_get_put_erase(app, exit_code);
  add_store_commands(app, exit_code);
}

}  // namespace engram::tool
