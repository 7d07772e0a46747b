#pragma once
// Moving entries between stores, over AnyStore: export to and import from the JSON Lines
// format (jsonl_format.hpp), migrate (store to store, resumable) and the destination and
// re-embedding rules they share. The command-line wrappers are in commands_transfer.cpp; the
// functions are here so tests and other programs can call them.
//
// Embedder identity (DESIGN section 9): a copy is lossless only between stores of the same
// identity (fingerprint and dimension). A destination that records another identity is refused
// (EmbedderMismatch) unless the caller re-embeds with an embedder of the destination's identity
// (or, for a new destination, any embedder): every query is embedded again and stored
// L2-normalized.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "engram/embedders/any_embedder.hpp"
#include "engram/stores/any_store.hpp"
#include "progress.hpp"

namespace engram::tool {

// Replaces each entry's embedding by reembed.embed_batch(queries), L2-normalized. Throws
// InvalidArgument when a vector has the wrong dimension, is zero or not finite.
void reembed_batch(std::vector<StoredEntry>& batch, const AnyEmbedder& embedder);

// Opens `dst` for entries of identity `source`: with `reembed`, the embedder's identity must
// match what dst records (if anything); without, `source` must. Returns the identity dst was
// opened with. Throws EmbedderMismatch / DimensionMismatch naming both identities.
StoreIdentity open_destination(AnyStore& dst, const StoreIdentity& source, const AnyEmbedder* reembed);

// ---- export / import -------------------------------------------------------------------

struct ExportResult {
  std::uint64_t entries = 0;
};
// Writes the header and one line per entry of the (open) `src` to `out`. Throws on I/O errors.
ExportResult export_entries(const AnyStore& src, const StoreIdentity& identity, std::FILE* out,
                            const ProgressOptions& progress);

struct ImportOptions {
  std::size_t batch_size = 1000;
  const AnyEmbedder* reembed = nullptr;  // set with --accept-re-embed
  ProgressOptions progress{};
};
struct ImportResult {
  std::uint64_t entries = 0;
  std::size_t quotas = 0;
  StoreIdentity identity{};
};
// Reads the export on `in` (name: for messages) and writes it into `dst` (unopened) in batches
// of batch_size through insert_many. Every line of a batch is decoded and checked before the
// batch is written, so a bad line leaves nothing of its batch written (earlier batches stay).
// Throws InvalidArgument "NAME line N: what is wrong" for a bad line, EmbedderMismatch when
// the file's identity differs from dst's and no re-embedding embedder is given.
ImportResult import_entries(std::FILE* in, const std::string& name, AnyStore& dst, const ImportOptions& options);

// ---- migrate -----------------------------------------------------------------------------

// Meta keys a migration keeps in the destination (so that a re-run resumes).
inline constexpr const char* kMetaMigrateSource = "migrate.source";   // source URI and identity
inline constexpr const char* kMetaMigrateLastId = "migrate.last_id";  // last source id written
inline constexpr const char* kMetaMigrateCopied = "migrate.copied";   // rows written so far
inline constexpr const char* kMetaMigrateState = "migrate.state";     // "running" or "done"

struct MigrateOptions {
  std::size_t batch_size = 1000;
  const AnyEmbedder* reembed = nullptr;
  bool restart = false;  // ignore a recorded unfinished migration and start from the first row
  ProgressOptions progress{};
};
struct MigrateResult {
  std::uint64_t copied = 0;  // rows written by this run
  std::uint64_t total = 0;   // rows written by every run of this migration
  bool resumed = false;
  EntryId resumed_after = 0;
  std::size_t quotas = 0;
  double seconds = 0;
};
// Copies every entry of `src` (open) into `dst` (unopened), then the quotas of src's
// namespaces. Resumable: after each batch the last source id is recorded in dst's meta, so a
// run that was interrupted (even killed) continues after that id; the batch in flight when it
// stopped is written again, which is harmless (insert upserts on (ns, hash)).
MigrateResult migrate_entries(const AnyStore& src, const StoreIdentity& src_identity, AnyStore& dst,
                              const MigrateOptions& options);

}  // namespace engram::tool
