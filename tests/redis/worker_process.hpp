#pragma once
// Test helper: Worker runs engram_cache_worker (one SemanticCache in its own process, fork +
// exec) and talks to it over pipes, one tab-separated line per request and per answer (see
// cache_worker.cpp for the protocol). Used by the multi-process and fault tests.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engram/types.hpp"

#ifndef ENGRAM_CACHE_WORKER
#error "ENGRAM_CACHE_WORKER must name the worker executable"
#endif

namespace engram::testing {

using Clock = std::chrono::steady_clock;

inline std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, '\t')) out.push_back(field);
  return out;
}

// One worker process and the pipes to it.
class Worker {
 public:
  Worker(std::string name, const std::vector<std::string>& args) : name_(std::move(name)) {
    int to_child[2], from_child[2];
    if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> argv_text = {ENGRAM_CACHE_WORKER};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(to_child[0], 0);
      ::dup2(from_child[1], 1);
      ::close(to_child[0]);
      ::close(to_child[1]);
      ::close(from_child[0]);
      ::close(from_child[1]);
      std::vector<char*> argv;
      argv.reserve(argv_text.size() + 1);
      for (auto& a : argv_text) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    in_ = to_child[1];
    out_ = from_child[0];
    const std::string ready = receive();
    if (ready != "ready") throw std::runtime_error(name_ + " did not start: " + ready);
  }
  ~Worker() {
    if (pid_ <= 0) return;
    const std::string quit = "quit\n";
    [[maybe_unused]] auto n = ::write(in_, quit.data(), quit.size());
    ::close(in_);
    ::close(out_);
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        ADD_FAILURE() << name_ << " did not exit after quit";
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << name_ << " exited abnormally";
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void send(const std::string& line) {
    const std::string text = line + "\n";
    if (::write(in_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      throw std::runtime_error(name_ + ": write to worker failed");
    }
  }
  std::string receive() {
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      pollfd pfd{out_, POLLIN, 0};
      if (::poll(&pfd, 1, 60'000) <= 0) throw std::runtime_error(name_ + ": no answer within 60 s");
      char chunk[4096];
      ssize_t n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) throw std::runtime_error(name_ + ": worker exited (" + buffer_ + ")");
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  std::string call(const std::string& line) {
    send(line);
    return receive();
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::string buffer_;
};

inline std::string put(Worker& w, const std::string& ns, const std::string& q, const std::string& r, int emb,
                       long long ttl_ms = -1) {
  return w.call("put\t" + ns + "\t" + q + "\t" + r + "\t" + std::to_string(emb) + "\t" + std::to_string(ttl_ms));
}
inline std::string get(Worker& w, const std::string& ns, const std::string& q, int emb = -1) {
  return w.call("get\t" + ns + "\t" + q + "\t" + std::to_string(emb));
}
inline std::string id_of(const std::string& ok_reply) {
  auto f = split(ok_reply);
  if (f.size() != 2 || f[0] != "ok") throw std::runtime_error("unexpected reply: " + ok_reply);
  return f[1];
}

}  // namespace engram::testing
