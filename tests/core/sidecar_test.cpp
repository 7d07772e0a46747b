// The index sidecar on a real SqliteStore file: a cache opened from the sidecar answers
// exactly what a cache rebuilt from the store answers, whatever happened to the sidecar
// (truncated, bit flips, another store or embedder, too old for the change feed, a writer
// killed mid-write, concurrent writers, a store restored under it) — the sidecar can be stale
// but never wrong.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "engram/detail/sidecar.hpp"
#include "engram/semantic_cache.hpp"
#include "engram/stores/sqlite_store.hpp"
#include "temp_dir.hpp"

namespace engram {
namespace {

using namespace std::chrono_literals;
using Cache = SemanticCache<SqliteStore, HashingEmbedder>;

constexpr std::int64_t kT0 = 1'700'000'000'000;    // ms; the fill happens at kT0
constexpr std::int64_t kReadAt = kT0 + 3'600'000;  // reads an hour later: ttl 30 min has expired

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::filesystem::remove(p);
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct Query {
  std::string ns, text;
};

// The start, middle and end of every section of the sidecar at `file`.
std::set<std::size_t> section_boundaries(const std::filesystem::path& file) {
  std::set<std::size_t> out;
  const auto mapped = detail::MappedSidecar::open(file);
  EXPECT_TRUE(mapped);
  if (!mapped) return out;
  for (const auto& s : mapped->sections()) out.insert({s.offset, s.offset + s.size / 2, s.offset + s.size});
  return out;
}

// What a get() returned, for comparison.
struct Answer {
  bool hit = false;
  EntryId id = 0;
  std::string response;
  int layer = -1;
  friend bool operator==(const Answer&, const Answer&) = default;
};
std::ostream& operator<<(std::ostream& os, const Answer& a) {
  return os << (a.hit ? "hit id=" + std::to_string(a.id) + " layer=" + std::to_string(a.layer) + " " + a.response
                      : std::string("miss"));
}

class Sidecar : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::filesystem::path db_ = dir_ / "cache.db";
  std::filesystem::path sidecar_ = dir_ / "cache.db.engram-index";
  std::vector<Query> queries_;
  std::vector<std::string> errors_;
  std::mutex errors_mu_;  // on_error may run on the cache's background row check

  CacheOptions options(std::int64_t at = kReadAt, bool sidecar = true) {
    CacheOptions o;
    o.similarity_threshold = 0.55;
    o.clock = [at] { return Timestamp(Millis(at)); };
    o.flush_interval = Millis(0);  // no background thread: tests fork
    if (!sidecar) o.index_path = std::filesystem::path();
    o.on_error = [this](const std::exception& e) {
      const std::lock_guard lock(errors_mu_);
      errors_.emplace_back(e.what());
    };
    return o;
  }
  std::unique_ptr<Cache> open(CacheOptions o, SqliteOptions so = {}) {
    return std::make_unique<Cache>(SqliteStore(db_, so), HashingEmbedder{64}, std::move(o));
  }

  // Puts n entries over three namespaces (some with a TTL that has expired at kReadAt, some
  // replaced, some erased) and records the queries.
  void fill(Cache& cache, std::size_t n, std::size_t offset = 0) {
    const std::size_t first = queries_.size();
    for (std::size_t i = offset; i < offset + n; ++i) {
      const std::string ns = i % 3 == 0 ? "" : i % 3 == 1 ? "alpha" : "beta";
      const std::string q = "question number " + std::to_string(i) + " about topic " + std::to_string(i % 17);
      PutOptions po{.ns = ns};
      if (i % 7 == 0) po.ttl = 30min;
      if (i % 11 == 0) po.ttl = 2h;
      cache.put(q, "answer " + std::to_string(i), po);
      queries_.push_back({ns, q});
    }
    for (std::size_t i = first; i < first + n; i += 13) cache.erase(queries_[i].text, queries_[i].ns);
    for (std::size_t i = first + 5; i < first + n; i += 19)
      cache.put(queries_[i].text, "replaced " + std::to_string(i), {.ns = queries_[i].ns});
  }

  // Every stored query asked exactly and as a paraphrase, in its namespace and in another.
  std::vector<Answer> answers(Cache& cache) {
    std::vector<Answer> out;
    auto add = [&](const std::optional<Hit>& h) {
      out.push_back(h ? Answer{true, h->id, h->response, static_cast<int>(h->layer)} : Answer{});
    };
    for (const Query& q : queries_) {
      add(cache.get(q.text, {.ns = q.ns}));
      add(cache.get("please, " + q.text + "?", {.ns = q.ns}));
      add(cache.get(q.text, {.ns = q.ns == "alpha" ? "beta" : "alpha"}));
    }
    return out;
  }

  // The answers of a cache rebuilt from the store (sidecar off).
  std::vector<Answer> reference() {
    auto cache = open(options(kReadAt, false));
    EXPECT_EQ(cache->stats().sidecar_loads, 0u);
    return answers(*cache);
  }

  // Opens with the sidecar (and options() unless `with` is given), checks that it answers
  // like `want` and returns its stats.
  Stats open_and_compare(const std::vector<Answer>& want, SqliteOptions so = {},
                         const std::optional<CacheOptions>& with = std::nullopt) {
    auto cache = open(with ? *with : options(), so);
    Stats stats = cache->stats();
    EXPECT_LE(stats.sidecar_loads + stats.sidecar_discards, 1u);
    const auto got = answers(*cache);
    EXPECT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i)
      EXPECT_EQ(got[i], want[i]) << "query " << i / 3 << " (" << queries_[i / 3].ns << ") " << queries_[i / 3].text;
    cache->close();
    return stats;
  }

  // options() (or the rebuild's, without a sidecar) with this index layout.
  CacheOptions layout_options(IndexKind kind, ElementType element, bool sidecar = true) {
    CacheOptions o = options(kReadAt, sidecar);
    o.index = kind;
    o.vectors = element;
    return o;
  }

  // A fresh store of 400 entries in this layout with a current sidecar; returns what a cache
  // rebuilt from the store answers.
  std::vector<Answer> prepare_layout(IndexKind kind, ElementType element) {
    std::filesystem::remove(db_);
    std::filesystem::remove(sidecar_);
    queries_.clear();
    prepare(400, layout_options(kind, element));
    auto cache = open(layout_options(kind, element, false));
    return answers(*cache);
  }

  // A filled store with a current sidecar.
  void prepare(std::size_t n = 300, const CacheOptions& o = {}) {
    CacheOptions fill_options = options(kT0);
    fill_options.index = o.index;
    fill_options.vectors = o.vectors;
    auto cache = open(fill_options);
    fill(*cache, n);
    // HNSW: every row linked before the sidecar is written, so that it holds graphs (level 0
    // included), not only tails of unlinked rows.
    for (int i = 0; i < 2000 && cache->stats().total.index_unlinked > 0; ++i) std::this_thread::sleep_for(10ms);
    cache->close();
    ASSERT_EQ(cache->stats().sidecar_writes, 1u);
    ASSERT_TRUE(std::filesystem::exists(sidecar_));
  }
};

TEST_F(Sidecar, CurrentSidecarIsLoadedAndAnswersLikeARebuild) {
  prepare();
  const auto want = reference();
  auto cache = open(options());
  const Stats stats = cache->stats();
  EXPECT_EQ(stats.sidecar_loads, 1u);
  EXPECT_EQ(stats.sidecar_discards, 0u);
  EXPECT_EQ(stats.rebuilds, 0u);
  EXPECT_EQ(answers(*cache), want);
  EXPECT_TRUE(errors_.empty()) << errors_.front();
  // Nothing changed: close leaves the sidecar alone.
  cache->close();
  EXPECT_EQ(cache->stats().sidecar_writes, 0u);
}

TEST_F(Sidecar, ElementTypesAndLayoutsRoundTrip) {
  for (const auto& [kind, element] :
       {std::pair{IndexKind::kFlat, ElementType::kF16}, std::pair{IndexKind::kFlat, ElementType::kInt8},
        std::pair{IndexKind::kHnsw, ElementType::kF32}, std::pair{IndexKind::kHnsw, ElementType::kInt8}}) {
    SCOPED_TRACE(std::string(to_string(kind)) + " " + to_string(element));
    const std::vector<Answer> want = prepare_layout(kind, element);
    const CacheOptions with = layout_options(kind, element);
    auto cache = open(with);
    EXPECT_EQ(cache->stats().sidecar_loads, 1u);
    EXPECT_EQ(answers(*cache), want);
    // A sidecar written with another element type is discarded, not misread.
    cache->close();
    CacheOptions other = options();
    other.index = kind;
    other.vectors = element == ElementType::kF32 ? ElementType::kF16 : ElementType::kF32;
    auto reopened = open(other);
    EXPECT_EQ(reopened->stats().sidecar_discards, 1u);
    EXPECT_EQ(reopened->stats().sidecar_loads, 0u);
  }
}

TEST_F(Sidecar, ChangesAfterTheSidecarAreApplied) {
  prepare();
  {
    auto cache = open(options(kT0, false));  // writes the store, not the sidecar
    fill(*cache, 120, 1000);
  }
  const auto want = reference();
  const Stats stats = open_and_compare(want);
  EXPECT_EQ(stats.sidecar_loads, 1u);
  EXPECT_EQ(stats.rebuilds, 0u);
  EXPECT_GE(stats.syncs, 1u);
}

TEST_F(Sidecar, CopyOnWriteLeavesTheFileAlone) {
  prepare(3000);
  const std::string before = read_file(sidecar_);
  {
    auto cache = open(options());
    ASSERT_EQ(cache->stats().sidecar_loads, 1u);
    fill(*cache, 50, 5000);  // writes into borrowed chunks copy them first
    cache->erase(queries_[1].text, queries_[1].ns);
    EXPECT_EQ(read_file(sidecar_), before);
    cache->close();
  }
  const auto want = reference();
  EXPECT_EQ(open_and_compare(want).sidecar_loads, 1u);
}

TEST_F(Sidecar, ExactMapRecordsAreReadInPlaceUntilWritten) {
  prepare(3000);
  auto cache = open(options());
  ASSERT_EQ(cache->stats().sidecar_loads, 1u);
  // Slot records (40 bytes) read in place are the sidecar's pages, not this process's memory:
  // what the exact map holds itself is each slot's 16-byte access part and the probe tables.
  const Stats loaded = cache->stats();
  EXPECT_LT(loaded.exact_map_bytes, loaded.exact_map_entries * 40);
  // A put copies the chunk of records it writes to; the answers stay a rebuild's.
  fill(*cache, 3, 7000);
  EXPECT_GT(cache->stats().exact_map_bytes, loaded.exact_map_bytes);
  cache->close();
  const auto want = reference();
  EXPECT_EQ(open_and_compare(want).sidecar_loads, 1u);
}

TEST_F(Sidecar, TruncatedAtEverySectionBoundaryAndRandomOffsets) {
  prepare();
  const std::string good = read_file(sidecar_);
  const auto want = reference();
  std::set<std::size_t> cuts = section_boundaries(sidecar_);
  cuts.insert({0, 1, 8, 64, 127, 128, 129});
  std::mt19937_64 rng(7);
  for (int i = 0; i < 12; ++i) cuts.insert(rng() % good.size());
  cuts.erase(good.size());
  for (const std::size_t cut : cuts) {
    SCOPED_TRACE("truncated to " + std::to_string(cut) + " of " + std::to_string(good.size()));
    write_file(sidecar_, good.substr(0, cut));
    errors_.clear();
    const Stats stats = open_and_compare(want);
    EXPECT_EQ(stats.sidecar_loads, 0u);
    EXPECT_EQ(stats.sidecar_discards, 1u);
    ASSERT_FALSE(errors_.empty());
    EXPECT_NE(errors_.front().find("index sidecar"), std::string::npos) << errors_.front();
  }
}

TEST_F(Sidecar, BitFlipsAreCaught) {
  prepare();
  const std::string good = read_file(sidecar_);
  const auto want = reference();
  std::mt19937_64 rng(11);
  std::size_t discards = 0;
  for (int i = 0; i < 40; ++i) {
    std::string bad = good;
    const std::size_t at = rng() % bad.size();
    bad[at] = static_cast<char>(bad[at] ^ (1 << (rng() % 8)));
    SCOPED_TRACE("bit flip at byte " + std::to_string(at));
    write_file(sidecar_, bad);
    const Stats stats = open_and_compare(want);
    discards += stats.sidecar_discards;  // a flip in padding changes nothing and is loaded
  }
  EXPECT_GE(discards, 30u);
}

// Sets detail::sidecar_background_verify_bytes for one test: 0 sends every sidecar's rows
// to the background check, as a large sidecar's are.
class BackgroundVerifyFrom {
 public:
  explicit BackgroundVerifyFrom(std::uint64_t bytes) : saved_(detail::sidecar_background_verify_bytes.load()) {
    detail::sidecar_background_verify_bytes.store(bytes);
  }
  ~BackgroundVerifyFrom() { detail::sidecar_background_verify_bytes.store(saved_); }
  BackgroundVerifyFrom(const BackgroundVerifyFrom&) = delete;
  BackgroundVerifyFrom& operator=(const BackgroundVerifyFrom&) = delete;

 private:
  std::uint64_t saved_;
};

// Waits (up to 20 s) until the background check has discarded the sidecar.
void await_discard(Cache& cache) {
  for (int i = 0; i < 2000 && cache.stats().sidecar_discards == 0; ++i) std::this_thread::sleep_for(10ms);
}

// An HNSW namespace's sidecar holds its graph in two sections, level 0 (mapped copy-on-write at
// open) and the rest: truncation at every boundary, bit flips in either, and damage found only
// by the background check all end in answers equal to a rebuild's, and nothing the cache does
// afterwards writes to the mapped file.
TEST_F(Sidecar, HnswSidecarFaultsAnswerLikeARebuild) {
  const std::vector<Answer> want = prepare_layout(IndexKind::kHnsw, ElementType::kF32);
  const CacheOptions with = layout_options(IndexKind::kHnsw, ElementType::kF32);
  const std::string good = read_file(sidecar_);
  std::set<std::size_t> cuts = section_boundaries(sidecar_);
  std::vector<detail::MappedSidecar::Section> graph_sections;
  if (const auto mapped = detail::MappedSidecar::open(sidecar_)) {
    for (const auto& s : mapped->sections())
      if ((s.kind == 4 || s.kind == 9) && s.size > 0) graph_sections.push_back(s);  // graph, level 0
  }
  ASSERT_EQ(graph_sections.size(), 6u);  // two per namespace
  cuts.erase(good.size());
  for (const std::size_t cut : cuts) {
    SCOPED_TRACE("truncated to " + std::to_string(cut) + " of " + std::to_string(good.size()));
    write_file(sidecar_, good.substr(0, cut));
    const Stats stats = open_and_compare(want, {}, with);
    EXPECT_EQ(stats.sidecar_discards, 1u);
  }
  std::mt19937_64 rng(13);
  for (const bool background : {false, true}) {
    BackgroundVerifyFrom from(background ? 0 : std::uint64_t{1} << 40);
    for (const auto& section : graph_sections) {
      const std::uint64_t at = section.offset + rng() % section.size;
      SCOPED_TRACE("bit flip at byte " + std::to_string(at) + (background ? ", checked in the background" : ""));
      std::string bad = good;
      bad[at] = static_cast<char>(bad[at] ^ (1 << (rng() % 8)));
      write_file(sidecar_, bad);
      auto cache = open(with);
      if (background && section.kind == 9) {
        EXPECT_EQ(cache->stats().sidecar_loads, 1u);  // level 0 is checked after the open
        await_discard(*cache);
      } else {
        EXPECT_EQ(cache->stats().sidecar_loads, 0u);
      }
      EXPECT_EQ(cache->stats().sidecar_discards, 1u);
      EXPECT_EQ(answers(*cache), want);
      cache->close();
    }
  }
  // A cache opened from the intact file and then written to (puts linked into the mapped
  // graph, deletes marking mapped elements) leaves the file as it was.
  write_file(sidecar_, good);
  {
    auto cache = open(with);
    ASSERT_EQ(cache->stats().sidecar_loads, 1u);
    fill(*cache, 60, 7000);
    cache->erase(queries_[2].text, queries_[2].ns);
    EXPECT_EQ(read_file(sidecar_), good);
  }
}

TEST_F(Sidecar, AnotherStoresSidecarIsDiscarded) {
  prepare();
  const std::string mine = read_file(sidecar_);
  // A second store with its own content and identity.
  const auto other_db = dir_ / "other.db";
  {
    Cache other(SqliteStore(other_db), HashingEmbedder{64}, options(kT0));
    other.put("something else entirely", "other answer");
  }
  write_file(sidecar_, read_file(dir_ / "other.db.engram-index"));
  const auto want = reference();
  errors_.clear();
  const Stats stats = open_and_compare(want);
  EXPECT_EQ(stats.sidecar_discards, 1u);
  ASSERT_FALSE(errors_.empty());
  EXPECT_NE(errors_.front().find("another store"), std::string::npos) << errors_.front();
  (void)mine;
}

TEST_F(Sidecar, AnotherEmbeddersSidecarIsDiscarded) {
  prepare();
  // A store with this store's identity but created with another embedder (dimension 32).
  const auto other_db = dir_ / "other.db";
  std::string uuid;
  {
    SqliteStore s(db_);
    s.open(HashingEmbedder{64}.fingerprint(), 64);
    uuid = s.read_meta(detail::kStoreUuidKey).value();
  }
  {
    SqliteStore s(other_db);
    s.open(HashingEmbedder{32}.fingerprint(), 32);
    s.write_meta(detail::kStoreUuidKey, uuid);
  }
  write_file(dir_ / "other.db.engram-index", read_file(sidecar_));
  errors_.clear();
  CacheOptions o = options();
  Cache other(SqliteStore(other_db), HashingEmbedder{32}, o);
  EXPECT_EQ(other.stats().sidecar_discards, 1u);
  ASSERT_FALSE(errors_.empty());
  EXPECT_NE(errors_.front().find("another embedder"), std::string::npos) << errors_.front();
  EXPECT_EQ(other.size(), 0u);
}

TEST_F(Sidecar, SidecarOlderThanTheFeedRetentionIsDiscarded) {
  prepare();
  SqliteOptions short_feed;
  short_feed.change_log_retention = 10;
  {
    auto cache = open(options(kT0, false), short_feed);
    fill(*cache, 60, 2000);
  }
  const auto want = reference();
  errors_.clear();
  const Stats stats = open_and_compare(want, short_feed);
  EXPECT_EQ(stats.sidecar_discards, 1u);
  ASSERT_FALSE(errors_.empty());
  EXPECT_NE(errors_.front().find("retention"), std::string::npos) << errors_.front();
}

TEST_F(Sidecar, StoreRestoredUnderTheSidecar) {
  prepare();
  const auto snap = dir_ / "snap.db";
  {
    auto cache = open(options(kT0));
    cache->snapshot_to(snap);
    fill(*cache, 80, 3000);  // the sidecar written at close reflects these too
  }
  // Restored into the live file: the counter moves past both histories, the feed restarts.
  SqliteStore::restore_from(snap, db_);
  queries_.resize(queries_.size() - 80);
  auto want = reference();
  errors_.clear();
  Stats stats = open_and_compare(want);
  EXPECT_EQ(stats.sidecar_discards, 1u);
  EXPECT_EQ(stats.sidecar_loads, 0u);

  // Restored to a fresh file beside a stale sidecar (the old database was deleted).
  {
    auto cache = open(options(kT0));
    fill(*cache, 40, 4000);
  }
  const std::string stale = read_file(sidecar_);
  queries_.resize(queries_.size() - 40);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_.string() + suffix);
  SqliteStore::restore_from(snap, db_);
  write_file(sidecar_, stale);
  want = reference();
  stats = open_and_compare(want);
  EXPECT_EQ(stats.sidecar_discards, 1u);
}

// Runs `body` in a child process; returns its exit status (0 = success).
template <class Body>
int run_in_child(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 1;
    try {
      code = body() ? 0 : 3;
    } catch (...) {
      code = 2;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(Sidecar, WriterKilledMidWriteLeavesAUsableSidecar) {
  prepare(2000);
  const auto want = reference();
  for (int round = 0; round < 5; ++round) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      try {
        auto cache = open(options());
        for (;;) cache->persist_index();
      } catch (...) {
      }
      ::_exit(2);
    }
    ::usleep(static_cast<useconds_t>(20000 + round * 17000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    errors_.clear();
    const Stats stats = open_and_compare(want);
    EXPECT_EQ(stats.sidecar_discards, 0u) << (errors_.empty() ? "" : errors_.front());
    EXPECT_EQ(stats.sidecar_loads, 1u);
  }
}

TEST_F(Sidecar, TwoProcessesWritingAtOnce) {
  prepare(2000);
  const auto want = reference();
  std::vector<pid_t> pids;
  for (int p = 0; p < 2; ++p) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int code = 0;
      try {
        auto cache = open(options());
        for (int i = 0; i < 10; ++i) cache->persist_index();
      } catch (...) {
        code = 2;
      }
      ::_exit(code);
    }
    pids.push_back(pid);
  }
  for (const pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  const Stats stats = open_and_compare(want);
  EXPECT_EQ(stats.sidecar_loads, 1u);
  EXPECT_EQ(stats.sidecar_discards, 0u);
}

TEST_F(Sidecar, OpenedFromTheSidecarThenAnotherProcessWrites) {
  prepare();
  auto cache = open(options());
  ASSERT_EQ(cache->stats().sidecar_loads, 1u);
  (void)answers(*cache);
  ASSERT_EQ(run_in_child([&] {
              auto other = open(options(kT0, false));
              fill(*other, 90, 6000);
              other->erase(queries_[2].text, queries_[2].ns);
              other->put(queries_[4].text, "changed elsewhere", {.ns = queries_[4].ns});
              return true;
            }),
            0);
  // The child's puts, mirrored here so that answers() asks for them too.
  for (std::size_t i = 6000; i < 6090; ++i) {
    const std::string ns = i % 3 == 0 ? "" : i % 3 == 1 ? "alpha" : "beta";
    queries_.push_back({ns, "question number " + std::to_string(i) + " about topic " + std::to_string(i % 17)});
  }
  const auto got = answers(*cache);
  const auto want = reference();
  EXPECT_EQ(got, want);
  EXPECT_EQ(cache->stats().rebuilds, 0u);
  auto hit = cache->get(queries_[4].text, {.ns = queries_[4].ns});
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->response, "changed elsewhere");
}

TEST_F(Sidecar, PersistIndexAndTheBackgroundTrigger) {
  prepare();
  CacheOptions o = options(kT0);
  o.flush_interval = 20ms;
  o.index_persist_interval = 30;
  auto cache = open(o);
  ASSERT_EQ(cache->stats().sidecar_loads, 1u);
  fill(*cache, 40, 7000);
  for (int i = 0; i < 200 && cache->stats().sidecar_writes == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GE(cache->stats().sidecar_writes, 1u);
  EXPECT_TRUE(cache->persist_index());
  const auto header = detail::peek_sidecar(sidecar_);
  ASSERT_TRUE(header);
  SqliteStore s(db_);
  s.open(HashingEmbedder{64}.fingerprint(), 64);
  EXPECT_EQ(header->store_version, s.read_version_counter());
}

TEST_F(Sidecar, RowsCheckedInTheBackgroundAnswerLikeARebuild) {
  BackgroundVerifyFrom all_rows(0);
  for (const auto& [kind, element] :
       {std::pair{IndexKind::kFlat, ElementType::kF32}, std::pair{IndexKind::kFlat, ElementType::kInt8},
        std::pair{IndexKind::kHnsw, ElementType::kF32}}) {
    SCOPED_TRACE(std::string(to_string(kind)) + " " + to_string(element));
    const std::vector<Answer> want = prepare_layout(kind, element);
    const CacheOptions with = layout_options(kind, element);
    // Answers asked at once (while the rows may still be unchecked: re-scored from the store)
    // and after the check equal a rebuild's.
    auto cache = open(with);
    EXPECT_EQ(answers(*cache), want);
    cache->close();
    EXPECT_EQ(cache->stats().sidecar_loads, 1u);
    EXPECT_EQ(cache->stats().sidecar_discards, 0u);
    EXPECT_EQ(cache->stats().sidecar_writes, 0u);
  }
  EXPECT_TRUE(errors_.empty()) << errors_.front();
}

TEST_F(Sidecar, DamagedRowFoundByTheBackgroundCheckRebuilds) {
  BackgroundVerifyFrom all_rows(0);
  prepare();
  const std::string good = read_file(sidecar_);
  const auto want = reference();
  std::vector<detail::MappedSidecar::Section> rows;
  {
    auto mapped = detail::MappedSidecar::open(sidecar_);
    ASSERT_TRUE(mapped);
    for (const auto& s : mapped->sections())
      if (s.kind == 1 && s.size > 0) rows.push_back(s);  // flat rows
  }
  ASSERT_EQ(rows.size(), 3u);  // three namespaces
  std::mt19937_64 rng(5);
  for (const auto& section : rows) {
    for (const std::uint64_t at : {section.offset, section.offset + section.size / 2, section.offset + section.size - 1,
                                   section.offset + rng() % section.size}) {
      SCOPED_TRACE("bit flip at byte " + std::to_string(at));
      std::string bad = good;
      bad[at] = static_cast<char>(bad[at] ^ (1 << (rng() % 8)));
      write_file(sidecar_, bad);
      {
        const std::lock_guard lock(errors_mu_);
        errors_.clear();
      }
      auto cache = open(options());
      EXPECT_EQ(cache->stats().sidecar_loads, 1u);  // the eager checks pass: the rows are checked later
      // Answers asked meanwhile are re-scored from the store: a hit is a true one.
      const HashingEmbedder embedder{64};
      auto unit = [&](const std::string& text) {
        std::vector<float> v = embedder.embed(text);
        double norm = 0;
        for (const float x : v) norm += static_cast<double>(x) * x;
        for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
        return v;
      };
      for (const Query& q : queries_) {
        const std::string asked = "please, " + q.text + "?";
        const auto hit = cache->get(asked, {.ns = q.ns});
        if (!hit || hit->layer != Layer::kSemantic) continue;
        const auto a = unit(asked), b = unit(hit->matched_query);
        double dot = 0;
        for (std::size_t i = 0; i < a.size(); ++i) dot += static_cast<double>(a[i]) * b[i];
        EXPECT_NEAR(hit->similarity, dot, 1e-4) << asked << " -> " << hit->matched_query;
      }
      await_discard(*cache);
      const Stats stats = cache->stats();
      EXPECT_EQ(stats.sidecar_discards, 1u);
      EXPECT_GE(stats.rebuilds, 1u);
      std::vector<std::string> seen;
      {
        const std::lock_guard lock(errors_mu_);
        seen = errors_;
      }
      ASSERT_FALSE(seen.empty());
      EXPECT_NE(seen.front().find("background"), std::string::npos) << seen.front();
      EXPECT_EQ(answers(*cache), want);
      // The damaged file is replaced on close, although the store did not change.
      cache->close();
      EXPECT_EQ(cache->stats().sidecar_writes, 1u);
      EXPECT_NE(read_file(sidecar_), bad);
    }
  }
  errors_.clear();
  const Stats stats = open_and_compare(want);
  EXPECT_EQ(stats.sidecar_loads, 1u);
  EXPECT_EQ(stats.sidecar_discards, 0u);
}

TEST_F(Sidecar, DiscardedSidecarIsReplacedOnClose) {
  prepare();
  const auto want = reference();
  std::string bad = read_file(sidecar_);
  bad[200] = static_cast<char>(bad[200] ^ 1);  // in the directory
  write_file(sidecar_, bad);
  {
    auto cache = open(options());
    EXPECT_EQ(cache->stats().sidecar_discards, 1u);
    cache->close();
    EXPECT_EQ(cache->stats().sidecar_writes, 1u);
  }
  const Stats stats = open_and_compare(want);
  EXPECT_EQ(stats.sidecar_loads, 1u);
  EXPECT_EQ(stats.sidecar_discards, 0u);
}

TEST_F(Sidecar, DisabledAndInMemoryStoresWriteNothing) {
  {
    auto cache = open(options(kT0, false));
    cache->put("q", "r");
    EXPECT_FALSE(cache->index_path());
    EXPECT_FALSE(cache->persist_index());
  }
  EXPECT_FALSE(std::filesystem::exists(sidecar_));
  Cache memory(SqliteStore(":memory:"), HashingEmbedder{64}, options(kT0));
  EXPECT_FALSE(memory.index_path());
}

}  // namespace
}  // namespace engram
