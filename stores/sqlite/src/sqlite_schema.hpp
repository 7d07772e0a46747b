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

// Reads meta "schema_version" of an engram database inside the caller's transaction (or
// autocommit). Throws StoreCorrupt when the file is not an engram database.
int read_schema_version(const Db& db);

}  // namespace engram::detail
