// export / import / migrate / verify over AnyStore (SQLite and dict): round trips are
// bit-exact, malformed import files fail naming the line and write nothing of their batch,
// the embedder identity is enforced, verify finds each kind of difference.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "engram/embedders/hashing_embedder.hpp"
#include "engram/errors.hpp"
#include "jsonl_format.hpp"
#include "ops_test_data.hpp"
#include "temp_dir.hpp"
#include "transfer.hpp"
#include "verify.hpp"

namespace {

using namespace engram;
using namespace engram::tool;
using engram::testing::fill_ops_store;
using engram::testing::kOpsDim;
using engram::testing::ops_entry;

const ProgressOptions kQuiet{.enabled = false};

std::string export_text(const AnyStore& store) {
  char* buf = nullptr;
  std::size_t size = 0;
  std::FILE* f = open_memstream(&buf, &size);
  export_entries(store, *store.recorded_identity(), f, kQuiet);
  std::fclose(f);
  std::string out(buf, size);
  std::free(buf);  // NOLINT(cppcoreguidelines-no-malloc): open_memstream's buffer
  return out;
}

ImportResult import_text(const std::string& text, AnyStore& dst, std::size_t batch = 1000,
                         const AnyEmbedder* reembed = nullptr) {
  std::FILE* f = fmemopen(const_cast<char*>(text.data()), text.size(), "r");
  try {
    auto r = import_entries(f, "test.jsonl", dst,
                            ImportOptions{.batch_size = batch, .reembed = reembed, .progress = kQuiet});
    std::fclose(f);
    return r;
  } catch (...) {
    std::fclose(f);
    throw;
  }
}

TEST(Base64, RoundTripsAndIsStrict) {
  for (const std::string& s :
       std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x80", 3)})
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_FALSE(base64_decode("Zm9"));       // length
  EXPECT_FALSE(base64_decode("Zm9v!A=="));  // alphabet
  EXPECT_FALSE(base64_decode("Zg=a"));      // padding in the middle
  EXPECT_FALSE(base64_decode("Zh=="));      // non-canonical trailing bits
  EXPECT_FALSE(base64_decode("Zm9v\nYmFy"));
}

TEST(JsonlFormat, EntryRoundTripIsBitExactIncludingInvalidUtf8) {
  StoredEntry e = ops_entry(3);
  e.ns = std::string("bad\xff\xfe", 5);
  e.query = std::string("nul\0inside", 10);
  e.embedding[0] = -0.0f;
  e.embedding[1] = 1e-40f;  // subnormal
  e.ttl = Millis(0);
  std::string line;
  encode_entry(e, line);
  EXPECT_NE(line.find("\"ns_b64\""), std::string::npos);
  LineDecoder decoder;
  LineDecoder::padded(line);
  StoredEntry back = decoder.decode_entry(line, kOpsDim);
  back.id = e.id;
  EXPECT_EQ(back, e);
  EXPECT_EQ(std::signbit(back.embedding[0]), true);
}

TEST(Transfer, ExportImportRoundTripVerifiesIdentical) {
  AnyStore src = open_store("dict:");
  fill_ops_store(src, 3000);
  const std::string text = export_text(src);
  AnyStore dst = open_store("dict:");
  const auto r = import_text(text, dst, 700);
  EXPECT_EQ(r.entries, 3000u);
  EXPECT_EQ(r.quotas, 2u);
  const VerifyReport report = verify_stores(src, dst, {});
  EXPECT_TRUE(report.identical()) << report.to_text();
  EXPECT_EQ(report.compared, 3000u);
}

TEST(Transfer, MigrateSqliteToSqliteAndResume) {
  engram::testing::TempDir dir;
  AnyStore src = open_store((dir.path() / "src.db").string());
  fill_ops_store(src, 5000);
  const StoreIdentity identity = *src.recorded_identity();
  {
    // A first run that stopped after 2000 rows: simulated by recording the progress a killed
    // run leaves (the rows of the batch and the meta).
    AnyStore dst = open_store((dir.path() / "dst.db").string());
    dst.open(identity.fingerprint, identity.dim);
    std::vector<StoredEntry> first;
    src.iter_all([&](const StoredEntry& e) {
      first.push_back(e);
      return first.size() < 2000;
    });
    dst.insert_many(first);
    dst.write_meta(kMetaMigrateSource, src.description() + " " + identity.fingerprint + " d384");
    dst.write_meta(kMetaMigrateState, "running");
    dst.write_meta(kMetaMigrateLastId, std::to_string(first[1499].id));  // the last batch is re-copied
    dst.write_meta(kMetaMigrateCopied, "1500");
  }
  AnyStore dst = open_store((dir.path() / "dst.db").string());
  const auto r = migrate_entries(src, identity, dst, MigrateOptions{.batch_size = 512, .progress = kQuiet});
  EXPECT_TRUE(r.resumed);
  EXPECT_EQ(r.copied, 3500u);
  EXPECT_EQ(r.total, 5000u);
  EXPECT_EQ(dst.read_meta(kMetaMigrateState), "done");
  const VerifyReport report = verify_stores(src, dst, {});
  EXPECT_TRUE(report.identical()) << report.to_text();
  // A second complete run copies everything again, idempotently.
  const auto again = migrate_entries(src, identity, dst, MigrateOptions{.progress = kQuiet});
  EXPECT_FALSE(again.resumed);
  EXPECT_EQ(dst.count(), 5000u);
  EXPECT_TRUE(verify_stores(src, dst, {}).identical());
}

TEST(Transfer, EmbedderIdentityIsEnforced) {
  AnyStore src = open_store("dict:");
  fill_ops_store(src, 10);
  AnyStore other = open_store("dict:");
  other.open("another-model", kOpsDim);
  EXPECT_THROW(migrate_entries(src, *src.recorded_identity(), other, MigrateOptions{.progress = kQuiet}),
               EmbedderMismatch);
  AnyStore small = open_store("dict:");
  small.open(engram::testing::kOpsFingerprint, 8);
  EXPECT_THROW(import_text(export_text(src), small), DimensionMismatch);

  // Re-embedding with the destination's embedder is allowed, and verify then compares by cosine.
  const AnyEmbedder hashing{HashingEmbedder(kOpsDim)};
  AnyStore re = open_store("dict:");
  const auto r =
      migrate_entries(src, *src.recorded_identity(), re, MigrateOptions{.reembed = &hashing, .progress = kQuiet});
  EXPECT_EQ(r.copied, 10u);
  EXPECT_EQ(re.recorded_identity()->fingerprint, hashing.fingerprint());
  EXPECT_FALSE(verify_stores(src, re, {}).identical());  // identity and embeddings differ
  EXPECT_TRUE(verify_stores(src, re, {.ignore_embeddings = true}).identical());
  EXPECT_FALSE(verify_stores(src, re, {.min_cosine = 0.99}).identical());  // other model, other vectors
}

class MalformedImport : public ::testing::Test {
 protected:
  void SetUp() override {
    AnyStore src = open_store("dict:");
    fill_ops_store(src, 6);
    const std::string text = export_text(src);
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t nl = text.find('\n', pos);
      lines_.push_back(text.substr(pos, nl - pos));
      pos = nl + 1;
    }
  }
  // The file with line `at` (1-based) replaced; imports it in batches of 3 and expects an
  // error naming `line` and containing `what`, and nothing of the failing batch written.
  void expect_failure(std::size_t at, const std::string& replacement, const std::string& what,
                      std::size_t expected_written = 0) {
    std::string text;
    for (std::size_t i = 0; i < lines_.size(); ++i) text += (i + 1 == at ? replacement : lines_[i]) + "\n";
    AnyStore dst = open_store("dict:");
    try {
      import_text(text, dst, 3);
      ADD_FAILURE() << "import accepted a bad line " << at;
    } catch (const InvalidArgument& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("line " + std::to_string(at) + ":"), std::string::npos) << message;
      EXPECT_NE(message.find(what), std::string::npos) << message;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
    if (dst.recorded_identity()) {
      EXPECT_EQ(dst.count(), expected_written);
    }
  }
  std::string replace(std::size_t at, const std::string& from, const std::string& to) {
    std::string line = lines_[at - 1];
    const auto p = line.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    return line.replace(p, from.size(), to);
  }
  std::vector<std::string> lines_;  // header + 6 entries
};

TEST_F(MalformedImport, TruncatedLine) { expect_failure(3, lines_[2].substr(0, 100), "not valid JSON"); }
TEST_F(MalformedImport, WrongTypes) {
  expect_failure(2, replace(2, "\"access_count\":", "\"access_count\":\"many\",\"x\":"), "access_count");
  expect_failure(3, replace(3, "\"created_at_ms\":", "\"created_at_ms\":1.5,\"y\":"), "created_at_ms");
}
TEST_F(MalformedImport, BadBase64) { expect_failure(4, replace(4, "\"embedding\":\"", "\"embedding\":\"!"), "base64"); }
TEST_F(MalformedImport, WrongDimension) {
  std::string line = lines_[1];
  const std::size_t start = line.find("\"embedding\":\"") + 13;
  line.replace(start, line.find('"', start) - start, "AAAAAA==");
  expect_failure(2, line, "expected 1536");
}
TEST_F(MalformedImport, InvalidUtf8) { expect_failure(3, replace(3, "question", "qu\xc3\x28stion"), "invalid UTF-8"); }
TEST_F(MalformedImport, DuplicateKeys) {
  expect_failure(2, replace(2, "\"response\":", "\"query\":\"again\",\"response\":"), "duplicate key \"query\"");
  expect_failure(2, replace(2, "\"response\":", "\"query_b64\":\"YQ==\",\"response\":"), "given twice");
  expect_failure(3, replace(3, "\"id\":", "\"id\":1,\"id\":"), "duplicate key \"id\"");
}
TEST_F(MalformedImport, MissingAndUnknownFields) {
  expect_failure(2, "{\"ns\":\"x\"}", "missing field");
  expect_failure(2, replace(2, "\"id\":", "\"colour\":1,\"id\":"), "unknown key \"colour\"");
  expect_failure(2, "[1,2]", "not a JSON object");
  expect_failure(2, lines_[1] + " {}", "unexpected text");
}
TEST_F(MalformedImport, WrongHeaderOrVersion) {
  expect_failure(1, replace(1, "\"version\":1", "\"version\":2"), "format version 2");
  expect_failure(1, replace(1, "engram-export", "something-else"), "not an engram export");
  expect_failure(1, lines_[2], "line 1:");
}
TEST_F(MalformedImport, EmbedderMismatch) {
  std::string text;
  for (std::size_t i = 0; i < lines_.size(); ++i) text += lines_[i] + "\n";
  AnyStore dst = open_store("dict:");
  dst.open("some-other-model", kOpsDim);
  EXPECT_THROW(import_text(text, dst), EmbedderMismatch);
  EXPECT_EQ(dst.count(), 0u);
}
TEST_F(MalformedImport, EarlierBatchesStayLaterBatchIsNotWritten) {
  // Batches of 3: entries 1-3 (lines 2-4) are written; the bad line 6 is in the second batch.
  expect_failure(6, replace(6, "\"hash\":\"", "\"hash\":\"zz"), "hash", 3);
}

TEST(Verify, FindsEachKindOfDifference) {
  AnyStore a = open_store("dict:");
  fill_ops_store(a, 50);
  auto copy = [&] {
    AnyStore b = open_store("dict:");
    migrate_entries(a, *a.recorded_identity(), b, MigrateOptions{.progress = kQuiet});
    return b;
  };
  auto changed = [&](auto&& mutate, const std::string& kind) {
    AnyStore b = copy();
    StoredEntry e = *b.get_by_hash(ops_entry(7).ns, ops_entry(7).query_hash);
    mutate(b, e);
    const VerifyReport r = verify_stores(a, b, {});
    EXPECT_FALSE(r.identical()) << kind;
    EXPECT_EQ(r.counts_by_kind.count(kind), 1u) << kind << ": " << r.to_text();
  };
  EXPECT_TRUE(verify_stores(a, copy(), {}).identical());
  changed(
      [](AnyStore& b, StoredEntry e) {
        e.response += "!";
        b.insert(e);
      },
      "response");
  changed([](AnyStore& b, const StoredEntry& e) { b.delete_by_id(e.id); }, "missing_in_destination");
  changed(
      [](AnyStore& b, StoredEntry e) {
        auto bits = std::bit_cast<std::uint32_t>(e.embedding[5]) ^ 1u;
        e.embedding[5] = std::bit_cast<float>(bits);
        b.insert(e);
      },
      "embedding");
  changed(
      [](AnyStore& b, StoredEntry e) {
        e.ttl = Millis(5);
        b.insert(e);
      },
      "ttl");
  changed(
      [](AnyStore& b, StoredEntry e) {
        e.metadata = "{\"x\":1}";
        b.insert(e);
      },
      "metadata");
  changed([](AnyStore& b, const StoredEntry&) { b.set_namespace_quota("support", 3); }, "quota");
  changed(
      [](AnyStore& b, StoredEntry e) {
        e.access_count += 1;
        b.insert(e);
      },
      "access_count");
  changed(
      [](AnyStore& b, StoredEntry e) {
        e.query_hash.bytes[0] ^= 0xff;
        b.insert(e);
      },
      "missing_in_source");
}

}  // namespace
