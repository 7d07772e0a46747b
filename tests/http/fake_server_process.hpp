#pragma once
// FakeEmbeddingServer: runs fake_embedding_server (ENGRAM_FAKE_EMBEDDING_SERVER, set by CMake)
// as a child process (fork + exec) on a free loopback port the server picks itself and reports
// on its stdout, and talks to its control endpoints. The child dies with the test process
// (PDEATHSIG) and is killed and reaped by stop() or the destructor.
//
// Thread safety: use from one thread.

#include <httplib.h>
#include <poll.h>
#include <simdjson.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace engram::testing {

struct FakeServerStats {
  int requests = 0;
  int connections = 0;
  std::vector<std::size_t> batch_sizes;
  std::string authorization;
};

class FakeEmbeddingServer {
 public:
  FakeEmbeddingServer() = default;
  ~FakeEmbeddingServer() { stop(); }
  FakeEmbeddingServer(const FakeEmbeddingServer&) = delete;
  FakeEmbeddingServer& operator=(const FakeEmbeddingServer&) = delete;

  void start() {
    if (pid_ > 0) return;
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe() failed");
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork() failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execl(ENGRAM_FAKE_EMBEDDING_SERVER, ENGRAM_FAKE_EMBEDDING_SERVER, static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    std::string line;
    pollfd p{fds[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos) {
      if (::poll(&p, 1, 10'000) <= 0) break;
      char buf[64];
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    if (line.rfind("PORT ", 0) != 0) {
      stop();
      throw std::runtime_error(std::string("fake_embedding_server did not start (") + ENGRAM_FAKE_EMBEDDING_SERVER +
                               "); it printed: " + line);
    }
    port_ = std::stoi(line.substr(5));
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  // The base_url for an embedder: optionally routed through the given faults ("500x1+d16").
  std::string base_url(const std::string& faults = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + (faults.empty() ? "" : "/f/" + faults);
  }

  void reset() {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Post("/control/reset");
    if (!r || r->status != 200) throw std::runtime_error("fake_embedding_server: reset failed");
  }

  FakeServerStats stats() const {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get("/control/stats");
    if (!r || r->status != 200) throw std::runtime_error("fake_embedding_server: stats failed");
    simdjson::dom::parser parser;
    simdjson::dom::element root = parser.parse(simdjson::padded_string(r->body));
    FakeServerStats s;
    s.requests = static_cast<int>(std::int64_t(root["requests"]));
    s.connections = static_cast<int>(std::int64_t(root["connections"]));
    for (simdjson::dom::element e : root["batch_sizes"].get_array()) {
      s.batch_sizes.push_back(static_cast<std::size_t>(std::uint64_t(e)));
    }
    s.authorization = std::string(std::string_view(root["authorization"]));
    return s;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace engram::testing
