#include "jsonl_format.hpp"

#include <simdjson.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <set>

#include "engram/errors.hpp"
#include "tool_common.hpp"

namespace engram::tool {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_reverse() {
  std::array<std::int8_t, 256> r{};
  for (auto& v : r) v = -1;
  for (int i = 0; i < 64; ++i) r[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return r;
}
constexpr auto kReverse = make_reverse();

[[noreturn]] void fail(const std::string& why) { throw InvalidArgument(why); }

bool valid_utf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

// "key":"text" or "key_b64":"base64" when text is not valid UTF-8.
void put_text(std::string& out, const char* key, std::string_view text) {
  out += '"';
  out += key;
  if (valid_utf8(text)) {
    out += "\":";
    append_json_string(out, text);
  } else {
    out += "_b64\":\"";
    out += base64_encode(text);
    out += '"';
  }
}

void put_number(std::string& out, const char* key, std::int64_t value) {
  out += '"';
  out += key;
  out += "\":";
  out += std::to_string(value);
}

std::string hash_hex(const QueryHash& h) { return h.hex(); }

std::optional<QueryHash> hash_from_hex(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  QueryHash h;
  for (std::size_t i = 0; i < 16; ++i) {
    int v = 0;
    for (std::size_t k = 0; k < 2; ++k) {
      const char c = hex[2 * i + k];
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) return std::nullopt;
      v = v * 16 + d;
    }
    h.bytes[i] = static_cast<std::uint8_t>(v);
  }
  return h;
}

using simdjson::ondemand::json_type;

std::string_view need_string(simdjson::ondemand::value& v, std::string_view key) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) fail("field \"" + std::string(key) + "\" must be a string");
  return s;
}

std::int64_t need_int(simdjson::ondemand::value& v, std::string_view key) {
  std::int64_t n = 0;
  json_type t{};
  if (v.type().get(t) != simdjson::SUCCESS || t != json_type::number || v.get_int64().get(n) != simdjson::SUCCESS)
    fail("field \"" + std::string(key) + "\" must be an integer");
  return n;
}

std::string need_base64(simdjson::ondemand::value& v, std::string_view key) {
  auto bytes = base64_decode(need_string(v, key));
  if (!bytes) fail("field \"" + std::string(key) + "\" is not valid base64");
  return std::move(*bytes);
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
                            (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int pad = 0;
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=') {
        // Padding only at the end of the last quantum, at most two.
        if (!last || k < 2) return std::nullopt;
        ++pad;
        v <<= 6;
        continue;
      }
      if (pad > 0) return std::nullopt;
      const std::int8_t d = kReverse[static_cast<unsigned char>(c)];
      if (d < 0) return std::nullopt;
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out += static_cast<char>((v >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
    // Non-canonical encodings (bits set under the padding) are refused.
    if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0)) return std::nullopt;
  }
  return out;
}

std::string embedding_bytes(const std::vector<float>& embedding) {
  std::string out(embedding.size() * 4, '\0');
  for (std::size_t i = 0; i < embedding.size(); ++i) {
    const auto bits = std::bit_cast<std::uint32_t>(embedding[i]);
    out[4 * i] = static_cast<char>(bits & 0xff);
    out[4 * i + 1] = static_cast<char>((bits >> 8) & 0xff);
    out[4 * i + 2] = static_cast<char>((bits >> 16) & 0xff);
    out[4 * i + 3] = static_cast<char>((bits >> 24) & 0xff);
  }
  return out;
}

std::optional<std::vector<float>> embedding_from_bytes(std::string_view bytes) {
  if (bytes.size() % 4 != 0) return std::nullopt;
  std::vector<float> out(bytes.size() / 4);
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint32_t bits = 0;
    for (std::size_t k = 0; k < 4; ++k)
      bits |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[4 * i + k])) << (8 * k);
    out[i] = std::bit_cast<float>(bits);
  }
  return out;
}

std::string encode_header(const ExportHeader& header) {
  std::string out = "{\"format\":";
  append_json_string(out, kExportFormatName);
  out += ",\"version\":" + std::to_string(header.version) + ",";
  put_text(out, "fingerprint", header.identity.fingerprint);
  out += ",\"dim\":" + std::to_string(header.identity.dim) + ",";
  put_text(out, "source", header.source);
  out += ",\"entries\":" + std::to_string(header.entries);
  out += ",\"exported_at_ms\":" + std::to_string(header.exported_at_ms);
  out += ",\"quotas\":[";
  for (std::size_t i = 0; i < header.quotas.size(); ++i) {
    if (i > 0) out += ',';
    out += '{';
    put_text(out, "ns", header.quotas[i].first);
    out += ",\"max_entries\":" + std::to_string(header.quotas[i].second) + "}";
  }
  out += "]}";
  return out;
}

void encode_entry(const StoredEntry& e, std::string& out) {
  out += '{';
  put_number(out, "id", e.id);
  out += ',';
  put_text(out, "ns", e.ns);
  out += ",\"hash\":\"" + hash_hex(e.query_hash) + "\",";
  put_text(out, "query", e.query);
  out += ',';
  put_text(out, "response", e.response);
  out += ',';
  put_text(out, "metadata", e.metadata);
  out += ',';
  put_number(out, "created_at_ms", e.created_at.time_since_epoch().count());
  out += ',';
  put_number(out, "last_accessed_at_ms", e.last_accessed_at.time_since_epoch().count());
  out += ",\"ttl_ms\":";
  out += e.ttl ? std::to_string(e.ttl->count()) : "null";
  out += ',';
  put_number(out, "access_count", e.access_count);
  out += ",\"embedding\":\"";
  out += base64_encode(embedding_bytes(e.embedding));
  out += "\"}";
}

struct LineDecoder::Impl {
  simdjson::ondemand::parser parser;
};

LineDecoder::LineDecoder() : impl_(std::make_unique<Impl>()) {}
LineDecoder::~LineDecoder() = default;

void LineDecoder::padded(std::string& line) {
  if (line.capacity() < line.size() + simdjson::SIMDJSON_PADDING)
    line.reserve(line.size() + simdjson::SIMDJSON_PADDING);
}

namespace {

// Iterates the fields of the one JSON object on `line`; calls on_field(key, value) once per
// key (a repeated key is an error) and checks nothing follows the object.
template <class OnField>
void for_each_field(simdjson::ondemand::parser& parser, const std::string& line, OnField&& on_field) {
  if (!valid_utf8(line)) {
    const char* p = line.data();
    std::size_t good = 0;
    // Find the first byte where validation fails (the longest valid prefix).
    std::size_t lo = 0, hi = line.size();
    while (lo < hi) {
      const std::size_t mid = (lo + hi + 1) / 2;
      if (simdjson::validate_utf8(p, mid)) lo = mid;
      else hi = mid - 1;
    }
    good = lo;
    fail("invalid UTF-8 at byte " + std::to_string(good + 1));
  }
  const simdjson::padded_string_view view(line.data(), line.size(), line.capacity());
  simdjson::ondemand::document doc;
  if (auto err = parser.iterate(view).get(doc); err != simdjson::SUCCESS)
    fail(std::string("not valid JSON (") + simdjson::error_message(err) + ")");
  simdjson::ondemand::object obj;
  if (auto err = doc.get_object().get(obj); err != simdjson::SUCCESS) fail("not a JSON object");
  std::set<std::string, std::less<>> seen;
  for (auto item : obj) {
    simdjson::ondemand::field field;
    if (auto err = std::move(item).get(field); err != simdjson::SUCCESS)
      fail(std::string("not valid JSON (") + simdjson::error_message(err) + ")");
    std::string_view key_view;
    if (field.unescaped_key().get(key_view) != simdjson::SUCCESS) fail("not valid JSON (a bad key)");
    std::string key(key_view);
    if (!seen.insert(key).second) fail("duplicate key \"" + key + "\"");
    simdjson::ondemand::value value = field.value();
    on_field(key, value);
  }
  // Past the object only whitespace may follow: the document iterator is then out of bounds.
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) fail("unexpected text after the JSON object");
}

}  // namespace

ExportHeader LineDecoder::decode_header(const std::string& line) {
  ExportHeader h;
  bool has_format = false, has_version = false, has_fp = false, has_dim = false;
  for_each_field(impl_->parser, line, [&](const std::string& key, simdjson::ondemand::value& v) {
    if (key == "format") {
      if (need_string(v, key) != kExportFormatName)
        fail("not an engram export (\"format\" is not \"" + std::string(kExportFormatName) + "\")");
      has_format = true;
    } else if (key == "version") {
      const std::int64_t version = need_int(v, key);
      if (version != kExportFormatVersion)
        fail("format version " + std::to_string(version) + " is not supported (this engram reads version " +
             std::to_string(kExportFormatVersion) + ")");
      has_version = true;
    } else if (key == "fingerprint") {
      h.identity.fingerprint = std::string(need_string(v, key));
      has_fp = true;
    } else if (key == "fingerprint_b64") {
      h.identity.fingerprint = need_base64(v, key);
      has_fp = true;
    } else if (key == "dim") {
      const std::int64_t dim = need_int(v, key);
      if (dim <= 0 || dim > (1 << 20)) fail("\"dim\" " + std::to_string(dim) + " is out of range");
      h.identity.dim = static_cast<std::size_t>(dim);
      has_dim = true;
    } else if (key == "source") {
      h.source = std::string(need_string(v, key));
    } else if (key == "source_b64") {
      h.source = need_base64(v, key);
    } else if (key == "entries") {
      h.entries = static_cast<std::uint64_t>(std::max<std::int64_t>(0, need_int(v, key)));
    } else if (key == "exported_at_ms") {
      h.exported_at_ms = need_int(v, key);
    } else if (key == "quotas") {
      simdjson::ondemand::array arr;
      if (v.get_array().get(arr) != simdjson::SUCCESS) fail("\"quotas\" must be an array");
      for (auto item : arr) {
        simdjson::ondemand::object q;
        if (item.get_object().get(q) != simdjson::SUCCESS) fail("each quota must be an object");
        std::optional<std::string> ns;
        std::optional<std::int64_t> max;
        for (auto f : q) {
          std::string_view k;
          if (f.unescaped_key().get(k) != simdjson::SUCCESS) fail("bad quota key");
          simdjson::ondemand::value qv = f.value();
          if (k == "ns") ns = std::string(need_string(qv, "quotas.ns"));
          else if (k == "ns_b64") ns = need_base64(qv, "quotas.ns_b64");
          else if (k == "max_entries") max = need_int(qv, "quotas.max_entries");
          else fail("unknown quota key \"" + std::string(k) + "\"");
        }
        if (!ns || !max || *max < 0) fail("a quota needs \"ns\" and a non-negative \"max_entries\"");
        h.quotas.emplace_back(*ns, static_cast<std::size_t>(*max));
      }
    } else {
      fail("unknown header key \"" + key + "\"");
    }
  });
  if (!has_format) fail("not an engram export header (no \"format\")");
  if (!has_version) fail("the header has no \"version\"");
  if (!has_fp || !has_dim) fail("the header lacks the embedder identity (\"fingerprint\", \"dim\")");
  return h;
}

StoredEntry LineDecoder::decode_entry(const std::string& line, std::size_t dim) {
  StoredEntry e;
  enum : unsigned {
    kNs = 1,
    kHash = 2,
    kQuery = 4,
    kResponse = 8,
    kMetadata = 16,
    kCreated = 32,
    kAccessed = 64,
    kTtl = 128,
    kCount = 256,
    kEmbedding = 512,
    kAll = 1023
  };
  unsigned have = 0;
  auto mark = [&](unsigned bit, const std::string& key) {
    if ((have & bit) != 0) fail("field \"" + key + "\" given twice (with and without _b64)");
    have |= bit;
  };
  for_each_field(impl_->parser, line, [&](const std::string& key, simdjson::ondemand::value& v) {
    if (key == "id") {
      (void)need_int(v, key);
    } else if (key == "ns" || key == "ns_b64") {
      mark(kNs, key);
      e.ns = key == "ns" ? std::string(need_string(v, key)) : need_base64(v, key);
    } else if (key == "hash") {
      mark(kHash, key);
      auto h = hash_from_hex(need_string(v, key));
      if (!h) fail("field \"hash\" must be 32 hexadecimal digits");
      e.query_hash = *h;
    } else if (key == "query" || key == "query_b64") {
      mark(kQuery, key);
      e.query = key == "query" ? std::string(need_string(v, key)) : need_base64(v, key);
    } else if (key == "response" || key == "response_b64") {
      mark(kResponse, key);
      e.response = key == "response" ? std::string(need_string(v, key)) : need_base64(v, key);
    } else if (key == "metadata" || key == "metadata_b64") {
      mark(kMetadata, key);
      e.metadata = key == "metadata" ? std::string(need_string(v, key)) : need_base64(v, key);
    } else if (key == "created_at_ms") {
      mark(kCreated, key);
      e.created_at = Timestamp(Millis(need_int(v, key)));
    } else if (key == "last_accessed_at_ms") {
      mark(kAccessed, key);
      e.last_accessed_at = Timestamp(Millis(need_int(v, key)));
    } else if (key == "ttl_ms") {
      mark(kTtl, key);
      bool null = false;
      if (v.is_null().get(null) == simdjson::SUCCESS && null) e.ttl.reset();
      else e.ttl = Millis(need_int(v, key));
    } else if (key == "access_count") {
      mark(kCount, key);
      e.access_count = need_int(v, key);
      if (e.access_count < 0) fail("field \"access_count\" must not be negative");
    } else if (key == "embedding") {
      mark(kEmbedding, key);
      const std::string bytes = need_base64(v, key);
      auto values = embedding_from_bytes(bytes);
      if (!values || values->size() != dim)
        fail("field \"embedding\" holds " + std::to_string(bytes.size()) + " bytes, expected " +
             std::to_string(dim * 4) + " (" + std::to_string(dim) + " float32 values)");
      for (float x : *values)
        if (!std::isfinite(x)) fail("field \"embedding\" contains NaN or infinity");
      e.embedding = std::move(*values);
    } else {
      fail("unknown key \"" + key + "\"");
    }
  });
  if (have != kAll) {
    static constexpr std::array<const char*, 10> kNames = {
        "ns",     "hash",         "query",    "response", "metadata", "created_at_ms", "last_accessed_at_ms",
        "ttl_ms", "access_count", "embedding"};
    std::string missing;
    for (std::size_t i = 0; i < kNames.size(); ++i)
      if ((have & (1u << i)) == 0) missing += (missing.empty() ? "" : ", ") + std::string(kNames[i]);
    fail("missing field(s): " + missing);
  }
  return e;
}

}  // namespace engram::tool
