#pragma once
// Store URIs: one text names any shipped store, so that applications and the `engram` tool
// address stores the same way.
//
//   sqlite:PATH          a SQLite file (a bare PATH means the same; "sqlite://PATH" too)
//   redis://[[user]:password@]host[:port][/db][?prefix=P]
//                        a RedisStore (port 6379, database 0 and prefix "engram" by default;
//                        host may be an IPv6 literal in brackets; user, password and prefix
//                        may be percent-encoded). Without a password in the URI, open_store()
//                        takes it from the environment variable ENGRAM_REDIS_PASSWORD.
//   dict:[NAME]          an in-memory DictStore, for tests: "dict:" is a new private store,
//                        "dict:NAME" a store shared by every open of that name in this process.
//
// parse_store_uri() only parses (no I/O, no environment); it never crashes on any input and
// throws InvalidArgument naming the offending text. Thread safety: pure functions.

#include <string>
#include <string_view>

namespace engram {

enum class StoreKind { kSqlite, kRedis, kDict };

struct StoreUri {
  StoreKind kind = StoreKind::kSqlite;
  std::string path{};             // kSqlite: the file path; kDict: the name (empty: a private store)
  std::string host{};             // kRedis
  int port = 6379;                // kRedis, 1..65535
  std::string username{};         // kRedis, empty: the default user
  std::string password{};         // kRedis, empty: none given in the URI
  int database = 0;               // kRedis, >= 0
  std::string prefix = "engram";  // kRedis key prefix, non-empty, no '{' or '}'
  friend bool operator==(const StoreUri&, const StoreUri&) = default;
};

// Parses `uri`. Throws InvalidArgument (empty text, an unknown scheme, a bad port or
// database number, an unknown query parameter, a malformed percent escape, ...).
StoreUri parse_store_uri(std::string_view uri);

// The URI in canonical form without the password (safe for logs and messages):
// "sqlite:PATH", "redis://host:port/db?prefix=P", "dict:NAME".
std::string describe(const StoreUri& uri);

}  // namespace engram
