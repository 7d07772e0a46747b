#pragma once
// Internal to engram::sqlite: the checksum that makes a snapshot verifiable.
//
// PRAGMA quick_check verifies the b-tree structure but not what the records say: a flipped bit
// inside a row (a response, an id, an embedding) passes it. snapshot_to() therefore records a
// digest of the logical content in the snapshot's own table engram_snapshot, and
// restore_from() recomputes it before anything at the destination is touched.

#include <string>
#include <string_view>

#include "sqlite_db.hpp"

namespace engram::detail {

// The snapshot-only table holding the digest; never part of a live store (restore does not
// copy it) and never part of the digest itself.
inline constexpr const char* kSnapshotTable = "engram_snapshot";
// engram_snapshot.format of the snapshots this build writes and can verify.
inline constexpr const char* kSnapshotFormat = "engram-sqlite-snapshot/1 xxh3-128";

// XXH3-128 (32 hex digits) over the logical content of the connection's main database:
//  - every row of sqlite_schema (type, name, tbl_name, sql) except engram_snapshot's, by
//    (type, name): table and index definitions, CHECK constraints, ...;
//  - PRAGMA application_id;
//  - every row of every table except engram_snapshot (engram's tables, sqlite_sequence, which
//    holds the id sequence, and ANALYZE's statistics), tables by name, rows by primary key
//    (rowid when there is none), every column with its storage class and exact bytes.
// So ids, namespaces, hashes, queries, responses, embeddings, metadata, timestamps, ttl,
// access counts, quotas, meta, the counter and the change log are all covered. Read errors
// throw like any other statement (StoreCorrupt for a damaged file).
std::string content_digest(const Db& db);

// `name` as a double-quoted SQL identifier (inner quotes doubled), for table and column names
// read from sqlite_schema.
std::string quote_ident(std::string_view name);

}  // namespace engram::detail
