// fake_embedding_server: a real HTTP/1.1 server process (cpp-httplib) speaking the three embedding
// wire protocols HttpEmbedder supports, with deterministic vectors (fake_embedding.hpp) and
// fault injection, for the HttpEmbedder tests.
//
// It binds 127.0.0.1 on a free port chosen by the kernel, prints "PORT <n>" on stdout, and
// serves until killed.
//
//   POST [/f/<faults>]/v1/embeddings  OpenAI-compatible {"model","input":[...]}
//   POST [/f/<faults>]/api/embed      Ollama            {"model","input":[...]}
//   POST [/f/<faults>]/embed          TEI               {"inputs":[...]}
//   GET  /control/stats   {"requests":n,"connections":c,"batch_sizes":[...],"authorization":"..."}
//                         over embedding requests since the last reset (c: distinct client
//                         address:port pairs, i.e. TCP connections)
//   POST /control/reset   zeroes the statistics and the per-fault counters
//
// <faults> is a '+'-separated list (the base_url of the embedder under test carries it):
//   d<N>          vectors of dimension N (default: the model's "-d<N>" suffix, else 8)
//   429x<k>-ra<s> the first k requests with these faults answer 429 with "Retry-After: s"
//   500x<k>       the first k requests answer 500; 500always: every request does
//   slow<ms>      sleep ms before answering
//   status<code>  answer <code> with a body quoting the request's Authorization header (as
//                 some services quote the key they rejected)
//   malformed     truncated JSON          wrongdim   vectors of dimension + 1
//   fewer         one vector too few      nan        NaN in the first vector (as Python emits)
//   huge          1e300 (finite in JSON, not as a float)
//   reversed      OpenAI data items in reverse order (with correct indices)
//   dupindex      OpenAI data items all with index 0
#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fake_embedding.hpp"

namespace {

std::mutex mu;
int requests = 0;
std::set<std::string> connections;
std::vector<std::size_t> batch_sizes;
std::string authorization;
std::map<std::string, int> fault_hits;

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

std::string vector_json(const std::vector<float>& v, bool nan, bool huge) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    if (i == 0 && nan) {
      out += "NaN";
    } else if (i == 0 && huge) {
      out += "1e300";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v[i]));
      out += buf;
    }
  }
  return out + "]";
}

void embed(const httplib::Request& req, httplib::Response& res) {
  const std::string faults = req.matches[1];
  const std::string endpoint = req.matches[2];
  int hit = 0;
  {
    std::lock_guard lock(mu);
    ++requests;
    connections.insert(req.remote_addr + ":" + std::to_string(req.remote_port));
    authorization = req.get_header_value("Authorization");
    hit = ++fault_hits[faults];
  }

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(req.body)).get(root) != simdjson::SUCCESS) {
    res.status = 400;
    res.set_content(R"({"error":"request body is not JSON"})", "application/json");
    return;
  }
  std::string model;
  std::vector<std::string> inputs;
  simdjson::dom::array list;
  const bool tei = endpoint == "embed";
  if (!tei) {
    std::string_view m;
    if (root["model"].get_string().get(m) != simdjson::SUCCESS) {
      res.status = 400;
      res.set_content(R"({"error":"no model"})", "application/json");
      return;
    }
    model = std::string(m);
  }
  if (root[tei ? "inputs" : "input"].get_array().get(list) != simdjson::SUCCESS) {
    res.status = 400;
    res.set_content(R"({"error":"no input array"})", "application/json");
    return;
  }
  for (simdjson::dom::element e : list) {
    std::string_view s;
    if (e.get_string().get(s) != simdjson::SUCCESS) {
      res.status = 400;
      res.set_content(R"({"error":"input is not a string"})", "application/json");
      return;
    }
    inputs.emplace_back(s);
  }
  {
    std::lock_guard lock(mu);
    batch_sizes.push_back(inputs.size());
  }

  std::size_t dim = 8;
  if (const auto at = model.rfind("-d"); at != std::string::npos) dim = std::stoul(model.substr(at + 2));
  bool malformed = false, wrongdim = false, fewer = false, nan = false, huge = false, reversed = false,
       dupindex = false;
  for (const std::string& f : split(faults, '+')) {
    int k = 0, s = 0, code = 0, ms = 0;
    unsigned long d = 0;
    if (std::sscanf(f.c_str(), "429x%d-ra%d", &k, &s) == 2) {
      if (hit <= k) {
        res.status = 429;
        res.set_header("Retry-After", std::to_string(s));
        res.set_content(R"({"error":"rate limited"})", "application/json");
        return;
      }
    } else if (f == "500always" || (std::sscanf(f.c_str(), "500x%d", &k) == 1 && hit <= k)) {
      res.status = 500;
      res.set_content(R"({"error":"internal error"})", "application/json");
      return;
    } else if (std::sscanf(f.c_str(), "status%d", &code) == 1) {
      res.status = code;
      res.set_content(
          "{\"error\":" + json_string("Incorrect API key provided: " + req.get_header_value("Authorization")) + "}",
          "application/json");
      return;
    } else if (std::sscanf(f.c_str(), "slow%d", &ms) == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    } else if (std::sscanf(f.c_str(), "d%lu", &d) == 1) {
      dim = d;
    }
    malformed |= f == "malformed";
    wrongdim |= f == "wrongdim";
    fewer |= f == "fewer";
    nan |= f == "nan";
    huge |= f == "huge";
    reversed |= f == "reversed";
    dupindex |= f == "dupindex";
  }

  std::vector<std::string> vectors;
  vectors.reserve(inputs.size());
  for (const std::string& text : inputs) {
    vectors.push_back(vector_json(engram::testing::fake_embedding(text, wrongdim ? dim + 1 : dim),
                                  nan && vectors.empty(), huge && vectors.empty()));
  }
  if (fewer && !vectors.empty()) vectors.pop_back();

  std::string body;
  if (endpoint == "v1/embeddings") {
    std::vector<std::string> items;
    for (std::size_t i = 0; i < vectors.size(); ++i) {
      items.push_back(R"({"object":"embedding","index":)" + std::to_string(dupindex ? 0 : i) + R"(,"embedding":)" +
                      vectors[i] + "}");
    }
    if (reversed) std::reverse(items.begin(), items.end());
    body = R"({"object":"list","model":)" + json_string(model) + R"(,"data":[)";
    for (std::size_t i = 0; i < items.size(); ++i) body += (i ? "," : "") + items[i];
    body += R"(],"usage":{"prompt_tokens":1,"total_tokens":1}})";
  } else {
    body = endpoint == "api/embed" ? R"({"model":)" + json_string(model) + R"(,"embeddings":[)" : "[";
    for (std::size_t i = 0; i < vectors.size(); ++i) body += (i ? "," : "") + vectors[i];
    body += endpoint == "api/embed" ? "]}" : "]";
  }
  if (malformed) body = body.substr(0, body.size() / 2);
  res.set_content(body, "application/json");
}

}  // namespace

int main() {
  httplib::Server server;
  server.set_keep_alive_max_count(100000);
  server.set_keep_alive_timeout(30);
  server.Post(R"((?:/f/([^/]+))?/(v1/embeddings|api/embed|embed))", embed);
  server.Get("/control/stats", [](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mu);
    std::string body = "{\"requests\":" + std::to_string(requests) +
                       ",\"connections\":" + std::to_string(connections.size()) + ",\"batch_sizes\":[";
    for (std::size_t i = 0; i < batch_sizes.size(); ++i) body += (i ? "," : "") + std::to_string(batch_sizes[i]);
    body += "],\"authorization\":" + json_string(authorization) + "}";
    res.set_content(body, "application/json");
  });
  server.Post("/control/reset", [](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mu);
    requests = 0;
    connections.clear();
    batch_sizes.clear();
    authorization.clear();
    fault_hits.clear();
    res.set_content("{}", "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) {
    std::fprintf(stderr, "fake_embedding_server: cannot bind 127.0.0.1\n");
    return 1;
  }
  std::printf("PORT %d\n", port);
  std::fflush(stdout);
  return server.listen_after_bind() ? 0 : 1;
}
