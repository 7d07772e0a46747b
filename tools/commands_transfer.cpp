// export, import, migrate, verify (docs/operations.md).
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "commands.hpp"
#include "embedder_choice.hpp"
#include "engram/errors.hpp"
#include "tool_common.hpp"
#include "transfer.hpp"
#include "verify.hpp"

namespace engram::tool {

namespace {

void add_store_positional(CLI::App* cmd, std::string& target, const char* name, const char* what) {
  cmd->add_option(name, target, what)->required()->check(store_uri_check());
}

struct CopyOpts {
  std::uint64_t batch = 1000;
  bool accept_re_embed = false, quiet = false;
  std::uint64_t interval_ms = 1000;
  EmbedderChoice embedder;
};

void add_copy_options(CLI::App* cmd, CopyOpts& o, bool reembed) {
  add_uint_option(*cmd, "--batch-size", o.batch, "entries per insert_many transaction (default 1000)", 1, 1000000);
  add_uint_option(*cmd, "--progress-interval-ms", o.interval_ms,
                  "plain progress line interval when stderr is not a terminal (default 1000; 0: every batch)", 0,
                  86400000);
  cmd->add_flag("--quiet", o.quiet, "no progress output");
  if (reembed) {
    cmd->add_flag("--accept-re-embed", o.accept_re_embed,
                  "allow a different embedder: re-embed every query with --embedder (not lossless)");
    add_embedder_options(*cmd, o.embedder);
  }
}

ProgressOptions progress_of(const CopyOpts& o, const char* label) {
  return ProgressOptions{.label = label,
                         .enabled = !o.quiet,
                         .interval = std::chrono::milliseconds(static_cast<std::int64_t>(o.interval_ms))};
}

std::optional<AnyEmbedder> reembedder(const CLI::App* cmd, const CopyOpts& o) {
  if (!o.accept_re_embed) {
    if (cmd->count("--embedder") > 0)
      throw InvalidArgument(
          "--embedder needs --accept-re-embed here (a copy is lossless only without it). "
          "Remediation: add --accept-re-embed to re-embed every query.");
    return std::nullopt;
  }
  if (cmd->count("--embedder") == 0)
    throw InvalidArgument("--accept-re-embed needs --embedder (the new embedder). Remediation: name it.");
  return make_embedder(o.embedder);
}

void add_export(CLI::App& app, int& exit_code) {
  struct Opts : CopyOpts {
    std::string store, file;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("export", "Write every entry (and quotas) as JSON Lines to FILE, or - for stdout");
  add_store_positional(cmd, o->store, "STORE", "the store URI");
  cmd->add_option("FILE", o->file, "output file, or - for standard output")->required();
  add_copy_options(cmd, *o, false);
  cmd->callback([o, &exit_code] {
    run_guarded(exit_code, [&] {
      AnyStore store = open_existing(o->store);
      const StoreIdentity identity = *store.recorded_identity();
      if (o->file == "-") {
        const auto r = export_entries(store, identity, stdout, progress_of(*o, "export"));
        std::fprintf(stderr, "exported %llu entries\n", static_cast<unsigned long long>(r.entries));
        return kExitOk;
      }
      // Written beside the target and renamed into place: never a half-written export.
      const std::string tmp = o->file + ".partial";
      std::FILE* out = std::fopen(tmp.c_str(), "wb");
      if (out == nullptr)
        throw CheckpointError("cannot create " + tmp + ": " + std::generic_category().message(errno) +
                              ". Remediation: check the directory.");
      try {
        const auto r = export_entries(store, identity, out, progress_of(*o, "export"));
        if (std::fclose(out) != 0) {
          out = nullptr;
          throw CheckpointError("cannot write " + tmp + ". Remediation: check the disk space.");
        }
        out = nullptr;
        std::filesystem::rename(tmp, o->file);
        std::printf("exported %llu entries to %s\n", static_cast<unsigned long long>(r.entries), o->file.c_str());
      } catch (...) {
        if (out != nullptr) std::fclose(out);
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        throw;
      }
      return kExitOk;
    });
  });
}

void add_import(CLI::App& app, int& exit_code) {
  struct Opts : CopyOpts {
    std::string store, file;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("import", "Load a JSON Lines export (FILE, or - for stdin) into STORE");
  cmd->add_option("FILE", o->file, "input file, or - for standard input")->required();
  add_store_positional(cmd, o->store, "STORE", "the destination store URI (created if missing)");
  add_copy_options(cmd, *o, true);
  cmd->callback([o, cmd, &exit_code] {
    run_guarded(exit_code, [&] {
      const auto embedder = reembedder(cmd, *o);
      std::FILE* in = o->file == "-" ? stdin : std::fopen(o->file.c_str(), "rb");
      if (in == nullptr)
        throw InvalidArgument("cannot open " + o->file + ": " + std::generic_category().message(errno) +
                              ". Remediation: check the path.");
      AnyStore store = open_store(o->store);
      ImportOptions options{.batch_size = static_cast<std::size_t>(o->batch),
                            .reembed = embedder ? &*embedder : nullptr,
                            .progress = progress_of(*o, "import")};
      try {
        const auto r = import_entries(in, o->file == "-" ? "<stdin>" : o->file, store, options);
        if (in != stdin) std::fclose(in);
        std::printf("imported %llu entries and %zu quotas into %s\n", static_cast<unsigned long long>(r.entries),
                    r.quotas, store.description().c_str());
      } catch (...) {
        if (in != stdin) std::fclose(in);
        throw;
      }
      return kExitOk;
    });
  });
}

void add_migrate(CLI::App& app, int& exit_code) {
  struct Opts : CopyOpts {
    std::string src, dst;
    bool restart = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("migrate", "Copy every entry and quota from SRC to DST (any stores); lossless, resumable");
  add_store_positional(cmd, o->src, "SRC", "the source store URI (must exist)");
  add_store_positional(cmd, o->dst, "DST", "the destination store URI (created if missing)");
  add_copy_options(cmd, *o, true);
  cmd->add_flag("--restart", o->restart, "ignore an unfinished migration recorded in DST and start over");
  cmd->callback([o, cmd, &exit_code] {
    run_guarded(exit_code, [&] {
      const auto embedder = reembedder(cmd, *o);
      AnyStore src = open_existing(o->src);
      const StoreIdentity identity = *src.recorded_identity();
      AnyStore dst = open_store(o->dst);
      const auto r = migrate_entries(src, identity, dst,
                                     MigrateOptions{.batch_size = static_cast<std::size_t>(o->batch),
                                                    .reembed = embedder ? &*embedder : nullptr,
                                                    .restart = o->restart,
                                                    .progress = progress_of(*o, "migrate")});
      std::printf("migrated %llu entries (%llu in total%s) and %zu quotas from %s to %s in %.2f s (%.0f rows/s)\n",
                  static_cast<unsigned long long>(r.copied), static_cast<unsigned long long>(r.total),
                  r.resumed ? (", resumed after source id " + std::to_string(r.resumed_after)).c_str() : "", r.quotas,
                  src.description().c_str(), dst.description().c_str(), r.seconds,
                  r.seconds > 0 ? static_cast<double>(r.copied) / r.seconds : 0.0);
      return kExitOk;
    });
  });
}

void add_verify(CLI::App& app, int& exit_code) {
  struct Opts {
    std::string src, dst;
    double min_cosine = 1.0;
    bool ignore_embeddings = false, ignore_access = false, json = false;
    std::uint64_t max_report = 20;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("verify", "Compare two stores entry by entry; exit 0 identical, 3 different");
  add_store_positional(cmd, o->src, "SRC", "the source store URI");
  add_store_positional(cmd, o->dst, "DST", "the destination store URI");
  add_double_option(*cmd, "--min-cosine", o->min_cosine,
                    "after a re-embed: embeddings match when their cosine is at least X", -1.0, 1.0);
  cmd->add_flag("--ignore-embeddings", o->ignore_embeddings, "do not compare embeddings");
  cmd->add_flag("--ignore-access", o->ignore_access, "do not compare last_accessed_at and access_count");
  add_uint_option(*cmd, "--max-report", o->max_report, "differences listed in full (default 20)", 0, 1000000);
  cmd->add_flag("--json", o->json, "print the report as one JSON object");
  cmd->callback([o, cmd, &exit_code] {
    run_guarded(exit_code, [&] {
      AnyStore src = open_existing(o->src);
      AnyStore dst = open_existing(o->dst);
      VerifyOptions options{.ignore_embeddings = o->ignore_embeddings,
                            .ignore_access = o->ignore_access,
                            .max_report = static_cast<std::size_t>(o->max_report)};
      if (cmd->count("--min-cosine") > 0) options.min_cosine = o->min_cosine;
      const VerifyReport report = verify_stores(src, dst, options);
      std::fputs(o->json ? (report.to_json() + "\n").c_str() : report.to_text().c_str(), stdout);
      return report.identical() ? kExitOk : kExitMiss;
    });
  });
}

}  // namespace

void add_transfer_commands(CLI::App& app, int& exit_code) {
  add_export(app, exit_code);
  add_import(app, exit_code);
  add_migrate(app, exit_code);
  add_verify(app, exit_code);
}

}  // namespace engram::tool
