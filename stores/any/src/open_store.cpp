// open_store(), AnyStore's identity probes and restore_from: the only place that knows every
// shipped backend.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "engram/stores/any_store.hpp"
#include "engram/stores/dict_store.hpp"
#include "engram/stores/sqlite_store.hpp"
#if ENGRAM_STORES_HAVE_REDIS
#include "engram/stores/redis_store.hpp"
#endif

namespace engram {

namespace {

// dict:NAME backings shared by every open of NAME in this process.
struct DictRegistry {
  std::mutex mu;
  std::map<std::string, DictStore::Location, std::less<>> named;
};

DictRegistry& dict_registry() {
  static DictRegistry registry;
  return registry;
}

// The backing for dict:NAME (created when `create`), or null when unknown and not creating.
DictStore::Location dict_location(const std::string& name, bool create) {
  if (name.empty()) return create ? DictStore::make_location() : nullptr;
  auto& r = dict_registry();
  std::lock_guard lock(r.mu);
  auto it = r.named.find(name);
  if (it != r.named.end()) return it->second;
  if (!create) return nullptr;
  auto location = DictStore::make_location();
  r.named.emplace(name, location);
  return location;
}

#if ENGRAM_STORES_HAVE_REDIS
RedisOptions redis_options(const StoreUri& uri, const StoreUriOptions& options) {
  RedisOptions o;
  o.host = uri.host;
  o.port = uri.port;
  o.username = uri.username;
  o.password = uri.password;
  if (o.password.empty()) o.password = options.redis_password;
  if (o.password.empty()) {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): read once while opening; nothing here sets the environment
    if (const char* env = std::getenv("ENGRAM_REDIS_PASSWORD"); env != nullptr) o.password = env;
  }
  o.database = uri.database;
  o.key_prefix = uri.prefix;
  o.command_timeout = options.redis_command_timeout;
  return o;
}
#endif

[[noreturn, maybe_unused]] void no_redis(const StoreUri& uri) {
  throw InvalidArgument("store URI " + describe(uri) +
                        ": this engram was built without RedisStore. Remediation: rebuild with ENGRAM_WITH_REDIS=ON.");
}

[[noreturn]] void missing(const StoreUri& uri, const std::string& why) {
  throw StoreError("no engram store at " + describe(uri) + ": " + why +
                   ". Remediation: check the URI (read-only commands never create a store).");
}

template <class Id>
std::optional<StoreIdentity> to_identity(const std::optional<Id>& id) {
  if (!id) return std::nullopt;
  return StoreIdentity{id->fingerprint, id->dim};
}

std::optional<StoreIdentity> identity_from_meta(const std::optional<std::string>& fp,
                                                const std::optional<std::string>& dim) {
  if (!fp || !dim) return std::nullopt;
  std::size_t d = 0;
  try {
    std::size_t used = 0;
    d = std::stoull(*dim, &used);
    if (used != dim->size()) throw std::invalid_argument(*dim);
  } catch (const std::exception&) {
    throw StoreCorrupt("the recorded dimension '" + *dim + "' is not a number. Remediation: the store is damaged.");
  }
  return StoreIdentity{*fp, d};
}

}  // namespace

std::optional<StoreIdentity> AnyStore::recorded_identity() const {
  if (from_uri_) {
    switch (uri_.kind) {
      case StoreKind::kSqlite:
        return to_identity(SqliteStore::recorded_identity(uri_.path));
      case StoreKind::kRedis:
#if ENGRAM_STORES_HAVE_REDIS
        if (auto* redis = const_cast<AnyStore*>(this)->target<RedisStore>())
          return to_identity(RedisStore::recorded_identity(redis->options()));
        return std::nullopt;
#else
        no_redis(uri_);
#endif
      case StoreKind::kDict:
        if (auto* dict = const_cast<AnyStore*>(this)->target<DictStore>()) {
          const auto& meta = dict->location()->meta;
          auto fp = meta.find(std::string_view("fingerprint"));
          auto dim = meta.find(std::string_view("dim"));
          return identity_from_meta(fp == meta.end() ? std::nullopt : std::optional<std::string>(fp->second),
                                    dim == meta.end() ? std::nullopt : std::optional<std::string>(dim->second));
        }
        return std::nullopt;
    }
  }
  try {
    return identity_from_meta(read_meta("fingerprint"), read_meta("dim"));
  } catch (const CacheClosed&) {
    return std::nullopt;  // not open: a store of another type cannot be probed
  }
}

StoreIdentity AnyStore::open_recorded() {
  const auto identity = recorded_identity();
  if (!identity)
    throw StoreError(description_ +
                     " is not an initialized engram store (no embedder identity recorded). Remediation: check the "
                     "URI, or create it by putting an entry first.");
  open(identity->fingerprint, identity->dim);
  return *identity;
}

AnyStore open_store(std::string_view text, const StoreUriOptions& options) {
  const StoreUri uri = parse_store_uri(text);
  const std::string description = describe(uri);
  auto made = [&](auto store) {
    AnyStore out(std::move(store), description);
    out.uri_ = uri;
    out.from_uri_ = true;
    return out;
  };
  switch (uri.kind) {
    case StoreKind::kSqlite: {
      if (options.must_exist) {
        std::error_code ec;
        if (!std::filesystem::exists(uri.path, ec)) missing(uri, "the file does not exist");
        if (!SqliteStore::recorded_identity(uri.path)) missing(uri, "the file records no embedder identity");
      }
      return made(SqliteStore(uri.path));
    }
    case StoreKind::kRedis: {
#if ENGRAM_STORES_HAVE_REDIS
      RedisOptions o = redis_options(uri, options);
      if (options.must_exist && !RedisStore::recorded_identity(o)) missing(uri, "the key prefix holds no engram meta");
      return made(RedisStore(std::move(o)));
#else
      no_redis(uri);
#endif
    }
    case StoreKind::kDict: {
      auto location = dict_location(uri.path, !options.must_exist);
      if (!location) missing(uri, "no dict store of that name in this process");
      if (options.must_exist && !location->meta.contains(std::string_view("fingerprint")))
        missing(uri, "the dict store records no embedder identity");
      return made(DictStore(std::move(location)));
    }
  }
  throw InvalidArgument("unknown store kind");
}

AnyStore AnyStore::restore_from(const std::filesystem::path& src, const Location& dest) {
  const StoreUri uri = parse_store_uri(dest);
  const std::string description = describe(uri);
  AnyStore out = [&]() -> AnyStore {
    switch (uri.kind) {
      case StoreKind::kSqlite:
        return AnyStore(SqliteStore::restore_from(src, uri.path), description);
      case StoreKind::kRedis:
#if ENGRAM_STORES_HAVE_REDIS
        return AnyStore(RedisStore::restore_from(src, redis_options(uri, StoreUriOptions{})), description);
#else
        no_redis(uri);
#endif
      case StoreKind::kDict:
        return AnyStore(DictStore::restore_from(src, dict_location(uri.path, true)), description);
    }
    throw InvalidArgument("unknown store kind");
  }();
  out.uri_ = uri;
  out.from_uri_ = true;
  return out;
}

}  // namespace engram
