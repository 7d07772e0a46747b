// to_prometheus: the output is checked line by line against the text exposition grammar
// (format 0.0.4): comment lines, metric names, label syntax and escaping, float values, one
// TYPE per family before its samples, families contiguous.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

#include "engram/errors.hpp"
#include "engram/prometheus.hpp"

namespace {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// The format's grammar, by hand (std::regex trips g++ 12's -Wmaybe-uninitialized under ASan).
bool is_name(std::string_view s, bool colons) {
  const auto head = [&](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (colons && c == ':');
  };
  if (s.empty() || !head(s[0])) return false;
  return std::all_of(s.begin() + 1, s.end(),
                     [&](char c) { return head(c) || std::isdigit(static_cast<unsigned char>(c)); });
}
bool is_label_name(std::string_view s) { return is_name(s, false); }
bool is_metric_name(std::string_view s) { return is_name(s, true); }

// [+-]? (Inf | NaN | digits [. digits*] [exp] | . digits [exp]), exp = [eE] [+-]? digits.
bool is_float(std::string_view s) {
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t from = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    return i - from;
  };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (s.substr(i) == "Inf" || s.substr(i) == "NaN") return true;
  const std::size_t whole = digits();
  std::size_t fraction = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    fraction = digits();
  }
  if (whole == 0 && fraction == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

// Parses one label set "{a="x",b="y"}" starting at text[pos] == '{'; returns the position
// after '}' or npos on a syntax error. Unescapes \\, \" and \n.
std::size_t parse_labels(const std::string& text, std::size_t pos, std::map<std::string, std::string>& out) {
  ++pos;
  while (pos < text.size() && text[pos] != '}') {
    const std::size_t eq = text.find('=', pos);
    if (eq == std::string::npos) return std::string::npos;
    const std::string name = text.substr(pos, eq - pos);
    if (!is_label_name(name) || out.count(name) > 0) return std::string::npos;
    if (eq + 1 >= text.size() || text[eq + 1] != '"') return std::string::npos;
    std::string value;
    std::size_t i = eq + 2;
    for (; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\n') return std::string::npos;
      if (text[i] == '\\') {
        if (i + 1 >= text.size()) return std::string::npos;
        const char c = text[++i];
        if (c == 'n') value += '\n';
        else if (c == '\\' || c == '"') value += c;
        else return std::string::npos;
      } else {
        value += text[i];
      }
    }
    if (i >= text.size()) return std::string::npos;
    out[name] = value;
    pos = i + 1;
    if (pos < text.size() && text[pos] == ',') ++pos;
  }
  return pos < text.size() ? pos + 1 : std::string::npos;
}

// Checks the whole exposition, collecting the samples. Fails the test on any violation.
void check_exposition(const std::string& text, std::vector<Sample>& samples) {
  std::map<std::string, std::string> type_of;  // family -> type
  std::set<std::string> finished;              // families whose block has ended
  std::string current;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    SCOPED_TRACE("line " + std::to_string(n) + ": " + line);
    EXPECT_FALSE(line.empty());
    if (line.rfind("# ", 0) == 0) {
      std::istringstream words(line.substr(2));
      std::string keyword, family, rest;
      words >> keyword >> family;
      EXPECT_TRUE(keyword == "HELP" || keyword == "TYPE");
      EXPECT_TRUE(is_metric_name(family));
      if (keyword == "TYPE") {
        words >> rest;
        EXPECT_TRUE(rest == "counter" || rest == "gauge" || rest == "summary" || rest == "histogram" ||
                    rest == "untyped");
        EXPECT_EQ(type_of.count(family), 0u) << "second TYPE for " << family;
        type_of[family] = rest;
      }
      if (family != current) {
        if (!current.empty()) finished.insert(current);
        EXPECT_EQ(finished.count(family), 0u) << "family " << family << " is not contiguous";
        current = family;
      }
      continue;
    }
    Sample s;
    std::size_t end = line.find_first_of("{ ");
    ASSERT_NE(end, std::string::npos);
    s.name = line.substr(0, end);
    EXPECT_TRUE(is_metric_name(s.name));
    if (line[end] == '{') {
      end = parse_labels(line, end, s.labels);
      ASSERT_NE(end, std::string::npos) << "bad label syntax";
    }
    ASSERT_LT(end, line.size());
    EXPECT_EQ(line[end], ' ');
    const std::string value = line.substr(end + 1);
    EXPECT_TRUE(is_float(value)) << "value '" << value << "'";
    s.value = std::strtod(value.c_str(), nullptr);
    // The sample belongs to the current family (a summary also owns NAME_sum and NAME_count).
    std::string family = s.name;
    if (type_of.count(family) == 0) {
      for (const char* suffix : {"_count", "_sum"}) {
        const std::string suf(suffix);
        if (family.size() > suf.size() && family.compare(family.size() - suf.size(), suf.size(), suf) == 0) {
          const std::string base = family.substr(0, family.size() - suf.size());
          if (type_of.count(base) > 0 && type_of[base] == "summary") family = base;
        }
      }
    }
    EXPECT_EQ(type_of.count(family), 1u) << "sample before its TYPE line";
    EXPECT_EQ(family, current) << "sample outside its family's block";
    if (type_of[family] == "counter") {
      ASSERT_GE(s.name.size(), 6u);
      EXPECT_EQ(s.name.substr(s.name.size() - 6), "_total");
    }
    samples.push_back(std::move(s));
  }
}

engram::Stats sample_stats() {
  engram::Stats s;
  engram::NamespaceStats a;
  a.entries = 10;
  a.hits_exact = 5;
  a.hits_semantic = 3;
  a.puts = 10;
  a.evictions = 1;
  a.expirations = 2;
  a.index_memory_bytes = 4096;
  a.index_unlinked = 17;
  a.misses_by_reason[static_cast<std::size_t>(engram::MissReason::kBelowThreshold)] = 4;
  a.misses_by_reason[static_cast<std::size_t>(engram::MissReason::kGuarded)] = 3;
  a.guarded_by_reason = {{"negation", 2}, {"number", 1}};
  s.by_namespace["support"] = a;
  s.by_namespace["we\"ird\\name\nx"] = a;
  s.total = a;
  s.errors = 7;
  s.sidecar_discards = 1;
  s.response_cache_bytes = 1234;
  s.exact_map_entries = 20;
  s.exact_map_bytes = 999;
  s.get_latency = {.count = 100, .p50_us = 12.5, .p99_us = 250, .max_us = 1000};
  s.put_latency = {.count = 10, .p50_us = 100, .p99_us = 900, .max_us = 950};
  return s;
}

TEST(Prometheus, FollowsTheTextFormat) {
  const std::string text = engram::to_prometheus(sample_stats(), {{"service", "bot \"1\""}});
  std::vector<Sample> samples;
  check_exposition(text, samples);
  auto find = [&](const std::string& name, const std::map<std::string, std::string>& labels) -> const Sample* {
    for (const Sample& s : samples) {
      if (s.name != name) continue;
      bool all = true;
      for (const auto& [k, v] : labels) all = all && s.labels.count(k) > 0 && s.labels.at(k) == v;
      if (all) return &s;
    }
    return nullptr;
  };
  const Sample* hits = find("engram_hits_total", {{"namespace", "support"}, {"layer", "semantic"}});
  ASSERT_NE(hits, nullptr);
  EXPECT_EQ(hits->value, 3);
  EXPECT_EQ(hits->labels.at("service"), "bot \"1\"");
  ASSERT_NE(find("engram_hits_total", {{"namespace", "we\"ird\\name\nx"}}), nullptr);  // escaped and back
  EXPECT_EQ(find("engram_misses_total", {{"namespace", "support"}, {"reason", "below_threshold"}})->value, 4);
  EXPECT_EQ(find("engram_guard_rejections_total", {{"namespace", "support"}, {"reason", "negation"}})->value, 2);
  EXPECT_EQ(find("engram_errors_total", {})->value, 7);
  EXPECT_EQ(find("engram_entries", {{"namespace", "support"}})->value, 10);
  EXPECT_EQ(find("engram_index_unlinked_rows", {{"namespace", "support"}})->value, 17);
  EXPECT_EQ(find("engram_get_latency_seconds", {{"quantile", "0.5"}})->value, 12.5e-6);
  EXPECT_EQ(find("engram_get_latency_seconds", {{"quantile", "0.99"}})->value, 250e-6);
  EXPECT_EQ(find("engram_get_latency_seconds_count", {})->value, 100);
  EXPECT_EQ(find("engram_exact_map_bytes", {})->value, 999);
  EXPECT_EQ(find("engram_sidecar_discards_total", {})->value, 1);
}

TEST(Prometheus, EmptyStatsAreValid) {
  std::vector<Sample> samples;
  check_exposition(engram::to_prometheus(engram::Stats{}), samples);
  EXPECT_FALSE(samples.empty());
}

TEST(Prometheus, RejectsBadOrReservedLabelNames) {
  EXPECT_THROW(engram::to_prometheus({}, {{"1abc", "x"}}), engram::InvalidArgument);
  EXPECT_THROW(engram::to_prometheus({}, {{"__name", "x"}}), engram::InvalidArgument);
  EXPECT_THROW(engram::to_prometheus({}, {{"bad-name", "x"}}), engram::InvalidArgument);
  EXPECT_THROW(engram::to_prometheus({}, {{"namespace", "x"}}), engram::InvalidArgument);
}

}  // namespace
