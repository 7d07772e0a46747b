#include "transfer.hpp"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

#include "engram/errors.hpp"
#include "jsonl_format.hpp"
#include "tool_common.hpp"

namespace engram::tool {

namespace {

std::string identity_text(const StoreIdentity& id) { return id.fingerprint + " (dim " + std::to_string(id.dim) + ")"; }

void write_all(std::FILE* out, const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), out) != text.size())
    throw CheckpointError(std::string("cannot write the export: ") + std::generic_category().message(errno) +
                          ". Remediation: check the disk space and the output path.");
}

}  // namespace

void reembed_batch(std::vector<StoredEntry>& batch, const AnyEmbedder& embedder) {
  std::vector<std::string> queries;
  queries.reserve(batch.size());
  for (const StoredEntry& e : batch) queries.push_back(e.query);
  std::vector<std::vector<float>> vectors = embedder.embed_batch(queries);
  if (vectors.size() != batch.size())
    throw InvalidArgument("the embedder returned " + std::to_string(vectors.size()) + " vectors for " +
                          std::to_string(batch.size()) + " texts. Remediation: check the embedder.");
  for (std::size_t i = 0; i < batch.size(); ++i) {
    std::vector<float>& v = vectors[i];
    if (v.size() != embedder.dim())
      throw InvalidArgument("the embedder returned dimension " + std::to_string(v.size()) + ", not " +
                            std::to_string(embedder.dim()) + ". Remediation: check the embedder.");
    double norm = 0;
    for (float x : v) {
      if (!std::isfinite(x))
        throw InvalidArgument("the embedder returned NaN or infinity. Remediation: check the embedding model.");
      norm += static_cast<double>(x) * x;
    }
    if (norm <= 0) throw InvalidArgument("the embedder returned a zero vector. Remediation: check the model.");
    const double inv = 1.0 / std::sqrt(norm);
    for (float& x : v) x = static_cast<float>(x * inv);
    batch[i].embedding = std::move(v);
  }
}

StoreIdentity open_destination(AnyStore& dst, const StoreIdentity& source, const AnyEmbedder* reembed) {
  StoreIdentity wanted = reembed ? StoreIdentity{reembed->fingerprint(), reembed->dim()} : source;
  if (const auto recorded = dst.recorded_identity(); recorded && *recorded != wanted) {
    const std::string message =
        dst.description() + " records embedder " + identity_text(*recorded) + ", but the entries " +
        (reembed ? "would be re-embedded with " : "were embedded by ") + identity_text(wanted) + ". Remediation: " +
        (reembed ? "choose the destination's embedder with --embedder, or a new destination."
                 : "copy into a new destination, or re-embed with --accept-re-embed --embedder ... matching the "
                   "destination.");
    if (recorded->dim != wanted.dim) throw DimensionMismatch(message);
    throw EmbedderMismatch(message);
  }
  if (!reembed && source.dim == 0) throw InvalidArgument("the source has no embedder identity");
  dst.open(wanted.fingerprint, wanted.dim);
  return wanted;
}

ExportResult export_entries(const AnyStore& src, const StoreIdentity& identity, std::FILE* out,
                            const ProgressOptions& progress_options) {
  ExportHeader header;
  header.identity = identity;
  header.source = src.description();
  header.entries = src.count();
  header.exported_at_ms = now_ms();
  for (const std::string& ns : src.list_namespaces())
    if (const auto quota = src.get_namespace_quota(ns)) header.quotas.emplace_back(ns, *quota);
  write_all(out, encode_header(header) + "\n");
  Progress progress(header.entries, progress_options);
  ExportResult result;
  std::string buffer;
  buffer.reserve(1 << 20);
  src.iter_all([&](const StoredEntry& e) {
    encode_entry(e, buffer);
    buffer += '\n';
    if (buffer.size() >= (1u << 20)) {
      write_all(out, buffer);
      buffer.clear();
    }
    ++result.entries;
    if ((result.entries & 1023u) == 0) progress.update(result.entries);
    return true;
  });
  write_all(out, buffer);
  if (std::fflush(out) != 0) write_all(out, "");  // reports the error
  progress.finish(result.entries);
  return result;
}

ImportResult import_entries(std::FILE* in, const std::string& name, AnyStore& dst, const ImportOptions& options) {
  LineDecoder decoder;
  std::string line;
  std::uint64_t line_no = 0;
  bool at_eof = false;
  // Reads one line without its newline; false at the end of input.
  auto next_line = [&]() -> bool {
    line.clear();
    if (at_eof) return false;
    char chunk[65536];
    bool any = false;
    while (std::fgets(chunk, sizeof chunk, in) != nullptr) {
      any = true;
      const std::size_t n = std::strlen(chunk);
      if (n > 0 && chunk[n - 1] == '\n') {
        line.append(chunk, n - 1);
        ++line_no;
        return true;
      }
      line.append(chunk, n);
    }
    if (std::ferror(in))
      throw CheckpointError(name + ": read error: " + std::generic_category().message(errno) +
                            ". Remediation: check the file.");
    at_eof = true;
    if (!any) return false;
    ++line_no;
    return true;
  };
  auto bad_line = [&](const std::string& why) -> InvalidArgument {
    return InvalidArgument(name + " line " + std::to_string(line_no) + ": " + why +
                           ". Remediation: fix or regenerate the file with `engram export`; the batch holding this "
                           "line was not written.");
  };

  if (!next_line()) throw InvalidArgument(name + ": empty file, no export header. Remediation: check the file.");
  ExportHeader header;
  try {
    LineDecoder::padded(line);
    header = decoder.decode_header(line);
  } catch (const InvalidArgument& e) {
    throw bad_line(std::string("bad header: ") + e.what());
  }
  ImportResult result;
  result.identity = open_destination(dst, header.identity, options.reembed);
  Progress progress(header.entries, options.progress);
  std::vector<StoredEntry> batch;
  batch.reserve(options.batch_size);
  auto flush = [&]() {
    if (batch.empty()) return;
    if (options.reembed) reembed_batch(batch, *options.reembed);
    dst.insert_many(batch);
    result.entries += batch.size();
    batch.clear();
    progress.update(result.entries);
  };
  while (next_line()) {
    if (line.empty()) {
      // A blank last line is harmless; a blank line before more data is not.
      if (!next_line()) break;
      --line_no;
      throw bad_line("empty line");
    }
    LineDecoder::padded(line);
    try {
      batch.push_back(decoder.decode_entry(line, header.identity.dim));
    } catch (const InvalidArgument& e) {
      throw bad_line(e.what());
    }
    if (batch.size() >= options.batch_size) flush();
  }
  flush();
  for (const auto& [ns, max] : header.quotas) dst.set_namespace_quota(ns, max);
  result.quotas = header.quotas.size();
  progress.finish(result.entries);
  return result;
}

MigrateResult migrate_entries(const AnyStore& src, const StoreIdentity& src_identity, AnyStore& dst,
                              const MigrateOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  if (src.description() == dst.description() && src.description() != "dict:")
    throw InvalidArgument("source and destination are the same store (" + src.description() +
                          "). Remediation: name another destination.");
  open_destination(dst, src_identity, options.reembed);
  const std::string source_key = src.description() + " " + src_identity.fingerprint + " d" +
                                 std::to_string(src_identity.dim) +
                                 (options.reembed ? " re-embed " + options.reembed->fingerprint() : "");
  MigrateResult result;
  EntryId after = 0;
  std::uint64_t copied_before = 0;
  const auto state = dst.read_meta(kMetaMigrateState);
  const auto recorded_source = dst.read_meta(kMetaMigrateSource);
  if (!options.restart && state == "running") {
    if (recorded_source != source_key)
      throw InvalidArgument(dst.description() + " holds an unfinished migration from " + recorded_source.value_or("?") +
                            ". Remediation: finish it by running that migration again, or pass --restart.");
    const auto last = dst.read_meta(kMetaMigrateLastId);
    const auto copied = dst.read_meta(kMetaMigrateCopied);
    if (last) {
      const auto v = parse_uint(*last);
      if (!v) throw StoreCorrupt(dst.description() + ": meta " + kMetaMigrateLastId + " is not a number");
      after = static_cast<EntryId>(*v);
    }
    if (copied) copied_before = parse_uint(*copied).value_or(0);
    result.resumed = true;
    result.resumed_after = after;
  }
  dst.write_meta(kMetaMigrateSource, source_key);
  dst.write_meta(kMetaMigrateState, "running");
  dst.write_meta(kMetaMigrateLastId, std::to_string(after));
  dst.write_meta(kMetaMigrateCopied, std::to_string(copied_before));

  Progress progress(src.count(), options.progress);
  progress.update(copied_before);
  std::vector<StoredEntry> batch;
  batch.reserve(options.batch_size);
  auto flush = [&]() {
    if (batch.empty()) return;
    if (options.reembed) reembed_batch(batch, *options.reembed);
    dst.insert_many(batch);
    result.copied += batch.size();
    // Recorded right after the batch commits: a crash in between re-copies this batch.
    dst.write_meta(kMetaMigrateLastId, std::to_string(batch.back().id));
    dst.write_meta(kMetaMigrateCopied, std::to_string(copied_before + result.copied));
    batch.clear();
    progress.update(copied_before + result.copied);
  };
  src.iter_since(after, [&](const StoredEntry& e) {
    batch.push_back(e);
    if (batch.size() >= options.batch_size) flush();
    return true;
  });
  flush();
  for (const std::string& ns : src.list_namespaces()) {
    if (const auto quota = src.get_namespace_quota(ns)) {
      dst.set_namespace_quota(ns, *quota);
      ++result.quotas;
    }
  }
  dst.write_meta(kMetaMigrateState, "done");
  dst.write_meta("migrate.completed_at_ms", std::to_string(now_ms()));
  result.total = copied_before + result.copied;
  progress.finish(result.total);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace engram::tool
