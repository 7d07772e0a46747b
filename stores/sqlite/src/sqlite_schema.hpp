#pragma once
// Internal to engram::sqlite: the schema and its forward-only migrations.

#include <cstddef>
#include <string_view>

#include "sqlite_db.hpp"

namespace engram::detail {

// One migration step: the SQL that takes a database from version `to - 1` to `to`.
struct Migration {
  int to;
  const char* sql;
};

// Every step in order; the last one's `to` is kSqliteSchemaVersion.
const Migration* sqlite_migrations(std::size_t& count) noexcept;

// Inside one BEGIN IMMEDIATE transaction: recognises the file (empty, engram, or foreign),
// refuses a newer schema (SchemaError) or a foreign file (StoreCorrupt), applies the missing
// migration steps in order, then checks or records dim (DimensionMismatch first) and
// fingerprint (EmbedderMismatch). Nothing is changed if anything throws.
// Returns the schema version now in the file.
int prepare_schema(const Db& db, std::string_view fingerprint, std::size_t dim);

// Read-only inspection, before anything may write to the file: 0 for an empty database, the
// recorded schema version for an engram database. Throws StoreCorrupt for a SQLite database
// that is not engram's (or a file that is not a database at all), so that open() refuses a
// foreign file before it switches the journal mode or creates a table in it.
int inspect_schema(const Db& db);

// Brings an engram database forward to kSqliteSchemaVersion in one BEGIN IMMEDIATE
// transaction, without touching the embedder identity (restore uses it on its private copy
// of an older snapshot). Throws SchemaError for a newer file or a failed step.
int migrate_schema(const Db& db);

// Reads meta "schema_version" of an engram database inside the caller's transaction (or
// autocommit). Throws StoreCorrupt when the file is not an engram database.
int read_schema_version(const Db& db);

}  // namespace engram::detail
