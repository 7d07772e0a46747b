// A randomized concurrency checker (issue 8 item 11): threads of one SemanticCache and forked
// child processes, each with its own SemanticCache, run put/erase/get/sync/flush (and, through
// max_entries, LRU evictions) against one SqliteStore file. Every operation is logged with its
// start and end on CLOCK_MONOTONIC (steady_clock; one clock for every process on the host), and
// the checker then verifies that each value a get returned was the current value of its key at
// some moment during the call: written by a put that started before the get ended, and not
// superseded (by the next put or erase of that key) before the get started — give or take
// sync_interval for a reader in another process. Misses are always allowed: evictions by any
// process delete entries without being logged.
//
// Each key has exactly one writer, so the writes of a key are totally ordered by that writer's
// sequence numbers and "the next write after V" is well defined without any global clock.
//
// Knobs (environment): ENGRAM_CHECKER_SECONDS (default 6) and ENGRAM_CHECKER_SEED (decimal or
// 0x-hex; printed in the output so a failure can be replayed with the same operation choices).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engram/semantic_cache.hpp"
#include "engram/stores/sqlite_store.hpp"
#include "temp_dir.hpp"

namespace engram {
namespace {

using Cache = SemanticCache<SqliteStore, HashingEmbedder>;
using Nanos = std::int64_t;

Nanos now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Questions that share no content words, so no key can ever be a semantic hit for another one
// (checked up front by the test): a value served for another key is always a bug.
const std::vector<std::string>& queries() {
  static const std::vector<std::string> q = {
      "How do I reset my password?",
      "What is the capital of Mongolia?",
      "Recommend a vegetarian lasagna recipe",
      "Explain quantum entanglement simply",
      "Why is the sky blue during daytime",
      "Translate good morning into Japanese",
      "Best hiking trails near Zermatt",
      "How many moons orbit Jupiter",
      "Convert 72 Fahrenheit to Celsius",
      "Who painted the Sistine Chapel ceiling",
      "Fix a leaking kitchen faucet",
      "Symptoms of vitamin D deficiency",
      "Write a haiku about autumn leaves",
      "Compare Rust and Go for microservices",
      "When did the Berlin Wall fall",
      "Train a puppy to stop biting",
      "Calculate compound interest monthly",
      "Pronounce Worcestershire sauce correctly",
      "Largest desert on planet Earth",
      "Set up a Kubernetes ingress controller",
      "Knit a scarf for beginners",
      "Meaning of the word serendipity",
      "Prevent tomato blight in greenhouses",
      "Replace a bicycle chain",
      "Draft a resignation letter politely",
      "Distance from Lisbon to Madrid by train",
      "Brew cold coffee overnight",
      "Explain photosynthesis to children",
      "Tune a ukulele by ear",
      "Sort a linked list in place",
      "Clean mold off bathroom grout",
      "Origin of the Olympic flame",
  };
  return q;
}

int key_of_query(std::string_view query) {
  const auto& q = queries();
  for (std::size_t i = 0; i < q.size(); ++i)
    if (q[i] == query) return static_cast<int>(i);
  return -1;
}

// ---- values -------------------------------------------------------------------------------

struct ValueId {
  int key = 0;
  int writer = 0;
  std::uint64_t seq = 0;
};

// "k07.w02.s00000123." followed by padding derived from the prefix. The padding makes payloads
// big enough that a small response cache holds only a few of them (so gets keep reading the
// store), and because it is derived, the checker can tell a value that some put wrote from a
// torn or mixed-up one.
constexpr std::size_t kPadding = 400;

std::string make_value(const ValueId& id) {
  char head[64];
  std::snprintf(head, sizeof head, "k%02d.w%02d.s%08llu.", id.key, id.writer, static_cast<unsigned long long>(id.seq));
  std::string v = head;
  std::uint64_t x = id.seq * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(id.key * 131 + id.writer);
  for (std::size_t i = 0; i < kPadding; ++i) {
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    v.push_back("abcdefghijklmnopqrstuvwxyz012345"[x >> 59]);
  }
  return v;
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

// The id a value encodes, when it is exactly a value make_value() produces.
std::optional<ValueId> parse_value(std::string_view v) {
  if (v.size() < 18 || v[0] != 'k' || v[3] != '.' || v[4] != 'w' || v[7] != '.' || v[8] != 's' || v[17] != '.')
    return std::nullopt;
  ValueId id;
  if (!parse_number(v.substr(1, 2), id.key) || !parse_number(v.substr(5, 2), id.writer) ||
      !parse_number(v.substr(9, 8), id.seq))
    return std::nullopt;
  if (make_value(id) != v) return std::nullopt;
  return id;
}

// ---- the log --------------------------------------------------------------------------------

// One put or erase. `seq` numbers a writer's writes from 1, so record i of a writer's log has
// seq i + 1. A write that threw (ok = false) may or may not have taken effect: a get may return
// it, but it never counts as superseding anything.
struct WriteRec {
  int key = 0;
  int writer = 0;
  int process = 0;
  std::uint64_t seq = 0;
  bool erase = false;
  bool ok = true;
  Nanos start = 0, end = 0;
};

// One get that hit (misses are always allowed and are only counted).
struct ReadRec {
  int key = 0;  // the key asked for
  int process = 0;
  int thread = 0;
  Nanos start = 0, end = 0;
  Layer layer = Layer::kExact;
  int matched = -1;  // key of Hit::matched_query, -1 when it is none of ours
  std::string value;
};

struct Counts {
  std::uint64_t gets = 0, hits_exact = 0, hits_semantic = 0, misses = 0, puts = 0, erases = 0, syncs = 0, flushes = 0,
                failed_writes = 0, errors = 0, evictions = 0, failures = 0;
  void add(const Counts& o) {
    gets += o.gets, hits_exact += o.hits_exact, hits_semantic += o.hits_semantic, misses += o.misses;
    puts += o.puts, erases += o.erases, syncs += o.syncs, flushes += o.flushes;
    failed_writes += o.failed_writes, errors += o.errors, evictions += o.evictions, failures += o.failures;
  }
};

struct Log {
  std::vector<WriteRec> writes;
  std::vector<ReadRec> reads;
  Counts counts;
  std::vector<std::string> failures;  // exceptions that escaped an operation
};

// Children hand their log to the parent through a file: one line per record; a read's value
// follows its header line, length-prefixed, so it may contain anything.
void save(const Log& log, const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::binary);
  const Counts& c = log.counts;
  out << "C " << c.gets << ' ' << c.hits_exact << ' ' << c.hits_semantic << ' ' << c.misses << ' ' << c.puts << ' '
      << c.erases << ' ' << c.syncs << ' ' << c.flushes << ' ' << c.failed_writes << ' ' << c.errors << ' '
      << c.evictions << ' ' << c.failures << '\n';
  for (const WriteRec& w : log.writes)
    out << "W " << w.key << ' ' << w.writer << ' ' << w.process << ' ' << w.seq << ' ' << w.erase << ' ' << w.ok << ' '
        << w.start << ' ' << w.end << '\n';
  for (const ReadRec& r : log.reads)
    out << "R " << r.key << ' ' << r.process << ' ' << r.thread << ' ' << r.start << ' ' << r.end << ' '
        << static_cast<int>(r.layer) << ' ' << r.matched << ' ' << r.value.size() << '\n'
        << r.value << '\n';
  for (const std::string& f : log.failures) out << "F " << f.size() << '\n' << f << '\n';
  out << "E\n";  // a log without this line was cut short
}

bool load(const std::filesystem::path& path, Log& log) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  auto read_blob = [&](std::size_t n) {
    std::string s(n, '\0');
    in.read(s.data(), static_cast<std::streamsize>(n));
    in.get();  // the newline after the blob
    return s;
  };
  while (std::getline(in, line)) {
    std::istringstream f(line);
    char tag = 0;
    f >> tag;
    if (tag == 'E') return true;
    if (tag == 'C') {
      Counts c;
      f >> c.gets >> c.hits_exact >> c.hits_semantic >> c.misses >> c.puts >> c.erases >> c.syncs >> c.flushes >>
          c.failed_writes >> c.errors >> c.evictions >> c.failures;
      log.counts.add(c);
    } else if (tag == 'W') {
      WriteRec w;
      f >> w.key >> w.writer >> w.process >> w.seq >> w.erase >> w.ok >> w.start >> w.end;
      log.writes.push_back(w);
    } else if (tag == 'R') {
      ReadRec r;
      int layer = 0;
      std::size_t n = 0;
      f >> r.key >> r.process >> r.thread >> r.start >> r.end >> layer >> r.matched >> n;
      r.layer = static_cast<Layer>(layer);
      r.value = read_blob(n);
      log.reads.push_back(std::move(r));
    } else if (tag == 'F') {
      std::size_t n = 0;
      f >> n;
      log.failures.push_back(read_blob(n));
    } else {
      return false;
    }
    if (!f) return false;
  }
  return false;
}

// ---- the checker ----------------------------------------------------------------------------

struct CheckResult {
  std::vector<std::string> violations;
  std::uint64_t checked = 0;          // hits examined
  std::uint64_t cross_process = 0;    // hits on a value another process wrote
  Nanos first_violation = INT64_MAX;  // start of the earliest get that returned a wrong value
};

std::string window(Nanos start, Nanos end, Nanos origin) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "[%.3f ms, %.3f ms]", static_cast<double>(start - origin) / 1e6,
                static_cast<double>(end - origin) / 1e6);
  return buf;
}

std::string short_value(std::string_view v) {
  std::string s(v.substr(0, std::min<std::size_t>(v.size(), 24)));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  return '"' + s + (v.size() > 24 ? "...\"" : "\"");
}

// `writes` in any order; `cross_process_slack` is how far behind another process's write a
// reader may be (the cache's sync_interval). Times in the messages are relative to `origin`.
CheckResult check(const std::vector<WriteRec>& writes, const std::vector<ReadRec>& reads, Nanos cross_process_slack,
                  Nanos origin) {
  CheckResult result;
  auto violation = [&](const ReadRec& r, const std::string& what) {
    result.first_violation = std::min(result.first_violation, r.start);
    result.violations.push_back("get of key " + std::to_string(r.key) + " (\"" + queries()[r.key] + "\") by process " +
                                std::to_string(r.process) + " thread " + std::to_string(r.thread) + " during " +
                                window(r.start, r.end, origin) + " returned " + short_value(r.value) + " (" +
                                (r.layer == Layer::kExact ? "exact" : "semantic") + " hit): " + what);
  };

  // Each writer's log in seq order, and for each record the next successful write of its key.
  std::vector<std::vector<WriteRec>> by_writer;
  for (const WriteRec& w : writes) {
    if (static_cast<std::size_t>(w.writer) >= by_writer.size()) by_writer.resize(w.writer + 1);
    by_writer[w.writer].push_back(w);
  }
  std::vector<std::vector<std::size_t>> next_of;  // SIZE_MAX: never superseded
  for (auto& log : by_writer) {
    std::sort(log.begin(), log.end(), [](const WriteRec& a, const WriteRec& b) { return a.seq < b.seq; });
    for (std::size_t i = 0; i < log.size(); ++i)
      if (log[i].seq != i + 1) {
        result.violations.push_back("internal: writer " + std::to_string(log[i].writer) + " has a gap before seq " +
                                    std::to_string(log[i].seq));
        return result;
      }
    std::vector<std::size_t> next(log.size(), SIZE_MAX);
    std::unordered_map<int, std::size_t> later;  // key -> index of its next successful write
    for (std::size_t i = log.size(); i-- > 0;) {
      if (auto it = later.find(log[i].key); it != later.end()) next[i] = it->second;
      if (log[i].ok) later[log[i].key] = i;
    }
    next_of.push_back(std::move(next));
  }

  for (const ReadRec& r : reads) {
    ++result.checked;
    const std::optional<ValueId> id = parse_value(r.value);
    if (!id || static_cast<std::size_t>(id->writer) >= by_writer.size() || id->seq == 0 ||
        id->seq > by_writer[id->writer].size()) {
      violation(r, "no put ever wrote this value");
      continue;
    }
    const std::size_t index = id->seq - 1;
    const WriteRec& put = by_writer[id->writer][index];
    if (put.erase || put.key != id->key) {
      violation(r, "no put ever wrote this value (its writer's seq " + std::to_string(id->seq) + " is another write)");
      continue;
    }
    if (id->key != r.key) {  // the queries are far apart: neither layer may answer with another key
      violation(r, "the value belongs to key " + std::to_string(id->key));
      continue;
    }
    if (r.matched != id->key) {
      violation(r, "matched_query is " +
                       (r.matched < 0 ? std::string("none of the keys") : "key " + std::to_string(r.matched)) +
                       ", not the value's key");
      continue;
    }
    const bool other_process = put.process != r.process;
    result.cross_process += other_process;
    if (put.start > r.end) {
      violation(r, "its put started after the get ended: put " + window(put.start, put.end, origin));
      continue;
    }
    if (const std::size_t n = next_of[id->writer][index]; n != SIZE_MAX) {
      const WriteRec& next = by_writer[id->writer][n];
      const Nanos slack = other_process ? cross_process_slack : 0;
      if (next.end + slack < r.start)
        violation(r, std::string("superseded before the get started by ") + (next.erase ? "erase" : "put") + " seq " +
                         std::to_string(next.seq) + " of process " + std::to_string(next.process) + " during " +
                         window(next.start, next.end, origin) + " (value written by seq " + std::to_string(put.seq) +
                         " during " + window(put.start, put.end, origin) + ")");
    }
  }
  return result;
}

// ---- the workload -----------------------------------------------------------------------------

struct Plan {
  int parent_writers = 2;
  int parent_readers = 4;
  int children = 2;
  int child_writers = 1;
  int child_readers = 2;
  Nanos start = 0, stop = 0;  // the common time window, CLOCK_MONOTONIC
  std::uint64_t seed = 0;

  int writers() const { return parent_writers + children * child_writers; }
  // Writer w of all processes owns keys w, w + writers(), w + 2 * writers(), ...
  std::vector<int> keys_of(int writer) const {
    std::vector<int> out;
    for (int k = writer; k < static_cast<int>(queries().size()); k += writers()) out.push_back(k);
    return out;
  }
};

// 0: a get checks the version counter every time, so the checker's cross-process bound is exact.
constexpr Millis kSyncInterval{0};

CacheOptions checker_options(std::atomic<std::uint64_t>* errors) {
  CacheOptions o;
  o.sync_interval = kSyncInterval;
  o.max_entries = queries().size() * 3 / 4;  // puts evict by LRU, in every process
  // About half of the ~24 live payloads (~0.5 KiB each) fit: gets keep reading the store (the
  // window of the get/put race), yet a payload cached stale survives long enough to be served
  // again. Measured on the pre-fix code: 16 KiB (all fit) found nothing, 2 KiB ~25 violations
  // in 6 s, 4 KiB ~45, 8 KiB ~75.
  o.response_cache_bytes = 8 << 10;
  o.flush_interval = Millis(0);  // no background thread: the process may fork while it holds a cache
  o.touch_batch = 64;            // touches reach the store (and the LRU order) often
  o.on_error = [errors](const std::exception&) { errors->fetch_add(1, std::memory_order_relaxed); };
  return o;
}

std::uint64_t thread_seed(std::uint64_t seed, int process, int thread) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(process), static_cast<std::uint32_t>(thread)};
  std::array<std::uint32_t, 2> out{};
  seq.generate(out.begin(), out.end());
  return (std::uint64_t{out[0]} << 32) | out[1];
}

// Runs process `process`'s share of the plan on its own cache over `db` and returns its log.
Log run_process(const std::filesystem::path& db, const Plan& plan, int process) {
  std::atomic<std::uint64_t> errors{0};
  Cache cache(SqliteStore(db), HashingEmbedder{}, checker_options(&errors));
  const int writers = process == 0 ? plan.parent_writers : plan.child_writers;
  const int readers = process == 0 ? plan.parent_readers : plan.child_readers;
  const int first_writer = process == 0 ? 0 : plan.parent_writers + (process - 1) * plan.child_writers;
  std::vector<Log> logs(writers + readers);
  const int keys = static_cast<int>(queries().size());

  auto do_get = [&](Log& log, int key, int thread) {
    ReadRec r;
    r.key = key;
    r.process = process;
    r.thread = thread;
    r.start = now_ns();
    std::optional<Hit> hit = cache.get(queries()[key]);
    r.end = now_ns();
    ++log.counts.gets;
    if (!hit) {
      ++log.counts.misses;
      return;
    }
    ++(hit->layer == Layer::kExact ? log.counts.hits_exact : log.counts.hits_semantic);
    r.layer = hit->layer;
    r.matched = key_of_query(hit->matched_query);
    r.value = std::move(hit->response);
    log.reads.push_back(std::move(r));
  };

  auto body = [&](int thread) {
    Log& log = logs[thread];
    const bool writer = thread < writers;
    const int writer_id = first_writer + thread;
    const std::vector<int> own = writer ? plan.keys_of(writer_id) : std::vector<int>{};
    std::mt19937_64 rng(thread_seed(plan.seed, process, thread));
    std::uint64_t seq = 0;
    while (now_ns() < plan.start) std::this_thread::sleep_for(std::chrono::microseconds(200));
    while (now_ns() < plan.stop) {
      const int dice = static_cast<int>(rng() % 100);
      try {
        if (writer && dice < 85) {
          WriteRec w;
          w.key = own[rng() % own.size()];
          w.writer = writer_id;
          w.process = process;
          w.seq = ++seq;
          w.erase = dice >= 72;
          w.start = now_ns();
          try {
            if (w.erase) cache.erase(queries()[w.key]);
            else cache.put(queries()[w.key], make_value({w.key, writer_id, w.seq}));
          } catch (const std::exception& e) {
            w.ok = false;
            ++log.counts.failed_writes;
            log.failures.push_back(std::string("write failed: ") + e.what());
          }
          w.end = now_ns();
          ++(w.erase ? log.counts.erases : log.counts.puts);
          log.writes.push_back(w);
        } else if (dice < 94) {
          // Writers read their own keys (read-your-writes), readers any key.
          do_get(log, writer ? own[rng() % own.size()] : static_cast<int>(rng() % keys), thread);
        } else if (dice < 98) {
          cache.sync();
          ++log.counts.syncs;
        } else {
          cache.flush();  // access times reach the store: the LRU victims change
          ++log.counts.flushes;
        }
      } catch (const std::exception& e) {
        log.failures.push_back(std::string("operation failed: ") + e.what());
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(writers) + static_cast<std::size_t>(readers));
  for (int t = 0; t < writers + readers; ++t) threads.emplace_back(body, t);
  for (std::thread& t : threads) t.join();

  Log out;
  for (Log& log : logs) {
    out.writes.insert(out.writes.end(), log.writes.begin(), log.writes.end());
    std::move(log.reads.begin(), log.reads.end(), std::back_inserter(out.reads));
    out.failures.insert(out.failures.end(), log.failures.begin(), log.failures.end());
    out.counts.add(log.counts);
  }
  out.counts.errors = errors.load();
  out.counts.evictions = cache.stats().total.evictions;
  out.counts.failures = out.failures.size();
  cache.close();
  return out;
}

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read before any thread starts
  if (!v || !*v) return fallback;
  return std::strtoull(v, nullptr, 0);
}

double env_seconds(const char* name, double fallback) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read before any thread starts
  if (!v || !*v) return fallback;
  const double s = std::strtod(v, nullptr);
  return s > 0 ? s : fallback;
}

// ---- tests ------------------------------------------------------------------------------------

// The checker itself, on a hand-written history: it must accept what a correct cache may return
// and flag every kind of wrong answer.
TEST(ConcurrencyChecker, FlagsEveryKindOfWrongAnswer) {
  const std::vector<WriteRec> writes = {
      {.key = 0, .writer = 0, .process = 0, .seq = 1, .erase = false, .ok = true, .start = 0, .end = 10},
      {.key = 0, .writer = 0, .process = 0, .seq = 2, .erase = false, .ok = true, .start = 20, .end = 30},
      {.key = 0, .writer = 0, .process = 0, .seq = 3, .erase = true, .ok = true, .start = 40, .end = 50},
      {.key = 1, .writer = 0, .process = 0, .seq = 4, .erase = false, .ok = true, .start = 60, .end = 70},
      {.key = 1, .writer = 0, .process = 0, .seq = 5, .erase = false, .ok = false, .start = 80, .end = 90},
  };
  auto read = [](int key, int process, Nanos start, Nanos end, std::uint64_t seq, int value_key = -1,
                 int matched = -2) {
    if (value_key < 0) value_key = key;
    return ReadRec{.key = key,
                   .process = process,
                   .thread = 0,
                   .start = start,
                   .end = end,
                   .layer = Layer::kExact,
                   .matched = matched == -2 ? value_key : matched,
                   .value = make_value({value_key, 0, seq})};
  };
  const std::vector<ReadRec> good = {
      read(0, 0, 5, 15, 1),     // during its own put
      read(0, 0, 25, 35, 1),    // the next put had not completed when the get started
      read(0, 0, 45, 60, 2),    // neither had the erase
      read(0, 1, 35, 40, 1),    // another process, within the slack of 10
      read(1, 0, 100, 110, 4),  // a failed put supersedes nothing
      read(1, 0, 100, 110, 5),  // but may have been written
  };
  EXPECT_TRUE(check(writes, good, 10, 0).violations.empty());

  ReadRec garbage = read(0, 0, 5, 15, 1);
  garbage.value = "k00.w00.s00000001.tampered";
  const std::vector<ReadRec> bad = {
      read(0, 0, 31, 40, 1),        // superseded by seq 2 (ended at 30)
      read(0, 0, 55, 60, 2),        // erased at 50
      read(0, 0, 0, 15, 2),         // its put started at 20
      read(0, 1, 41, 45, 1),        // another process, beyond the slack
      read(0, 0, 5, 15, 9),         // seq 9 was never written
      read(0, 0, 45, 50, 3),        // seq 3 is an erase
      read(0, 0, 65, 70, 4, 1),     // key 1's value for key 0
      read(1, 0, 65, 70, 4, 1, 0),  // matched_query of another key
      garbage,
  };
  const CheckResult result = check(writes, bad, 10, 0);
  for (const std::string& v : result.violations) std::cout << "  expected: " << v << '\n';
  EXPECT_EQ(result.violations.size(), bad.size());
}

// The real thing: threads and processes against one SQLite file.
TEST(ConcurrencyChecker, ThreadsAndProcessesOnlyEverSeeCurrentValues) {
  // The checker relies on no key being a semantic hit for another.
  {
    HashingEmbedder embedder;
    const double threshold = kDefaultSimilarityThreshold;
    std::vector<std::vector<float>> vectors;
    for (const std::string& q : queries()) {
      std::vector<float> v = embedder.embed(q);
      double norm = 0;
      for (float x : v) norm += double(x) * x;
      for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
      vectors.push_back(std::move(v));
    }
    for (std::size_t i = 0; i < vectors.size(); ++i)
      for (std::size_t j = i + 1; j < vectors.size(); ++j) {
        double dot = 0;
        for (std::size_t d = 0; d < vectors[i].size(); ++d) dot += double(vectors[i][d]) * vectors[j][d];
        ASSERT_LT(dot, threshold - 0.2) << queries()[i] << " / " << queries()[j];
      }
  }

  testing::TempDir dir;
  const auto db = dir / "checker.db";
  {
    std::atomic<std::uint64_t> unused{0};
    Cache create(SqliteStore(db), HashingEmbedder{}, checker_options(&unused));  // creates the schema once
  }
  Plan plan;
  plan.seed = env_u64("ENGRAM_CHECKER_SEED", 0x5EED0011);
  const double seconds = env_seconds("ENGRAM_CHECKER_SECONDS", 6.0);
  // Every process starts at the same moment, after all of them had time to open their cache.
  plan.start = now_ns() + 300'000'000;
  plan.stop = plan.start + static_cast<Nanos>(seconds * 1e9);
  std::cout << "concurrency checker: seed 0x" << std::hex << plan.seed << std::dec << " (ENGRAM_CHECKER_SEED), "
            << seconds << " s (ENGRAM_CHECKER_SECONDS), " << queries().size() << " keys, " << plan.writers()
            << " writers, 1 + " << plan.children << " processes" << std::endl;

  // Children first, while this process has no other thread (fork copies only the caller).
  std::vector<pid_t> children;
  for (int p = 1; p <= plan.children; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 1;
      try {
        save(run_process(db, plan, p), dir / ("log-" + std::to_string(p)));
        code = 0;
      } catch (const std::exception& e) {
        std::cerr << "child " << p << ": " << e.what() << std::endl;
        code = 2;
      } catch (...) {
        code = 2;
      }
      ::_exit(code);  // no gtest or TempDir teardown in the child
    }
    children.push_back(pid);
  }
  Log all = run_process(db, plan, 0);
  for (int p = 1; p <= plan.children; ++p) {
    int status = 0;
    ASSERT_EQ(::waitpid(children[p - 1], &status, 0), children[p - 1]);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << p << " status " << status;
    ASSERT_TRUE(load(dir / ("log-" + std::to_string(p)), all)) << "child " << p << "'s log is incomplete";
  }

  const Counts& c = all.counts;
  const CheckResult result = check(all.writes, all.reads, std::chrono::nanoseconds(kSyncInterval).count(), plan.start);
  std::cout << "  " << c.gets << " gets (" << c.hits_exact << " exact hits, " << c.hits_semantic << " semantic hits, "
            << c.misses << " misses), " << c.puts << " puts, " << c.erases << " erases, " << c.syncs << " syncs, "
            << c.flushes << " flushes, " << c.evictions << " evictions, " << c.errors << " fail-open errors, "
            << c.failed_writes << " failed writes\n"
            << "  checked " << result.checked << " hits, " << result.cross_process
            << " of them on another process's value: " << result.violations.size() << " violations" << std::endl;
  if (!result.violations.empty())
    std::cout << "  first violation: a get that started " << (result.first_violation - plan.start) / 1'000'000
              << " ms into the run" << std::endl;
  constexpr std::size_t kShown = 50;
  for (std::size_t i = 0; i < std::min(kShown, result.violations.size()); ++i)
    std::cout << "  VIOLATION " << result.violations[i] << '\n';
  if (result.violations.size() > kShown) std::cout << "  ... and " << result.violations.size() - kShown << " more\n";
  for (const std::string& f : all.failures) std::cout << "  FAILURE " << f << '\n';
  std::cout << std::flush;

  EXPECT_TRUE(result.violations.empty()) << result.violations.size() << " violations (seed 0x" << std::hex << plan.seed
                                         << ")";
  EXPECT_TRUE(all.failures.empty());
  // The run must have exercised something: hits, including values written by another process.
  EXPECT_GT(c.puts, 0u);
  EXPECT_GT(result.checked, 0u);
  EXPECT_GT(result.cross_process, 0u);
}

}  // namespace
}  // namespace engram
