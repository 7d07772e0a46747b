#pragma once
// RedisServer: a real redis-server child process for tests and benchmarks (no GoogleTest
// dependency; redis_server.hpp adds the gtest Environment on top).
//
// It starts /usr/bin/redis-server (or $ENGRAM_REDIS_SERVER) on a free loopback port (found by
// binding a socket to port 0; retried when the port is taken meanwhile) in its own TempDir,
// waits until PING answers, and kills it when destroyed. It can be stopped and restarted on
// the same port and directory, optionally with a password and an append-only file
// (appendfsync always). The server dies with the process that started it (PDEATHSIG).
//
// Thread safety: use from one thread. Forked children may read its options but never stop it
// (only the process that started it can).

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engram/stores/redis_store.hpp"
#include "temp_dir.hpp"

namespace engram::testing {

struct RedisServerConfig {
  std::string password;      // requirepass; empty: none
  bool append_only = false;  // appendonly yes + appendfsync always
};

// Runs one command on a fresh hiredis connection (for test set-up and fault injection:
// SCRIPT FLUSH, reading raw keys). Returns the reply as text ("(nil)", integers in decimal,
// arrays joined by '\n'); throws std::runtime_error on a connection or error reply.
inline std::string redis_cli(int port, const std::string& password, const std::vector<std::string>& args) {
  timeval tv{2, 0};
  std::unique_ptr<redisContext, decltype(&redisFree)> c(redisConnectWithTimeout("127.0.0.1", port, tv), &redisFree);
  if (!c || c->err) throw std::runtime_error("redis_cli: cannot connect to port " + std::to_string(port));
  auto run = [&](const std::vector<std::string>& a) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& s : a) {
      argv.push_back(s.data());
      lens.push_back(s.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(c.get(), static_cast<int>(a.size()), argv.data(), lens.data()));
    if (r == nullptr) throw std::runtime_error("redis_cli: I/O error");
    std::unique_ptr<redisReply, decltype(&freeReplyObject)> guard(r, &freeReplyObject);
    auto text = [](const redisReply* x) -> std::string {
      switch (x->type) {
        case REDIS_REPLY_INTEGER:
          return std::to_string(x->integer);
        case REDIS_REPLY_NIL:
          return "(nil)";
        default:
          return x->str ? std::string(x->str, x->len) : std::string();
      }
    };
    if (r->type == REDIS_REPLY_ERROR) throw std::runtime_error("redis_cli: " + text(r));
    if (r->type != REDIS_REPLY_ARRAY) return text(r);
    std::string out;
    for (size_t i = 0; i < r->elements; ++i) out += (i ? "\n" : "") + text(r->element[i]);
    return out;
  };
  if (!password.empty()) run({"AUTH", password});
  return run(args);
}

class RedisServer {
 public:
  explicit RedisServer(RedisServerConfig config = {}) : config_(std::move(config)), owner_(::getpid()) {}
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  static std::string binary() {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): test helper; nothing in the tests sets the environment
    const char* env = std::getenv("ENGRAM_REDIS_SERVER");
    if (env && *env) return env;
    return "/usr/bin/redis-server";
  }

  // Starts the server: on a fresh free port the first time, on the same port and directory
  // afterwards. Throws std::runtime_error with a remediation when it cannot.
  void start() {
    if (pid_ > 0) return;
    if (::access(binary().c_str(), X_OK) != 0) {
      throw std::runtime_error("redis-server not found at " + binary() +
                               ". Install it (Debian/Ubuntu: apt-get install redis-server) or set "
                               "ENGRAM_REDIS_SERVER to its path; the Redis tests need a real server.");
    }
    const bool fixed_port = port_ != 0;
    for (int attempt = 0; attempt < 8; ++attempt) {
      if (!fixed_port) port_ = free_port();
      if (launch()) return;
      if (fixed_port && attempt >= 3) break;
      if (fixed_port) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    throw std::runtime_error("redis-server did not start on port " + std::to_string(port_) + "; see " +
                             (dir_.path() / "redis.log").string() + ":\n" + log_tail());
  }

  // Kills the server (SIGKILL by default: no shutdown save) and reaps it.
  void stop(int signal = SIGKILL) {
    if (pid_ <= 0 || ::getpid() != owner_) return;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  const std::string& password() const { return config_.password; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path unix_socket() const { return dir_.path() / "redis.sock"; }

  // Connection options for this server and key prefix, with short timeouts for tests.
  RedisOptions options(const std::string& prefix) const {
    RedisOptions o;
    o.host = "127.0.0.1";
    o.port = port_;
    o.password = config_.password;
    o.key_prefix = prefix;
    o.connect_timeout = Millis(1000);
    o.command_timeout = Millis(10000);
    return o;
  }

  std::string cli(const std::vector<std::string>& args) const { return redis_cli(port_, config_.password, args); }

 private:
  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd);
      throw std::runtime_error("cannot bind a loopback socket to find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
  }

  std::string log_tail() const {
    std::ifstream f(dir_.path() / "redis.log");
    std::stringstream ss;
    ss << f.rdbuf();
    std::string s = ss.str();
    return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
  }

  bool launch() {
    std::vector<std::string> args = {binary(),
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--dir",
                                     dir_.path().string(),
                                     "--unixsocket",
                                     unix_socket().string(),
                                     "--unixsocketperm",
                                     "700",
                                     "--save",
                                     "",
                                     "--daemonize",
                                     "no",
                                     "--logfile",
                                     (dir_.path() / "redis.log").string(),
                                     "--appendonly",
                                     config_.append_only ? "yes" : "no",
                                     "--appendfsync",
                                     "always"};
    if (!config_.password.empty()) {
      args.emplace_back("--requirepass");
      args.push_back(config_.password);
    }
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      // The server dies with the test program, even when that one crashes.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      std::vector<char*> argv;
      argv.reserve(args.size() + 1);
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: port taken, bad option, ...
        pid_ = -1;
        return false;
      }
      try {
        if (cli({"PING"}) == "PONG") return true;
      } catch (const std::exception&) {
        // not listening yet, or still loading its append-only file
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop();
    return false;
  }

  RedisServerConfig config_;
  pid_t owner_;
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A key prefix no other test (in this or any other process) has used.
inline std::string fresh_prefix(const std::string& tag = "t") {
  static std::atomic<unsigned> counter{0};
  static const unsigned salt = std::random_device{}();
  return tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(salt) + "-" +
         std::to_string(counter.fetch_add(1));
}

}  // namespace engram::testing
