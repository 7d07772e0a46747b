#pragma once
// Test harness: the redis-server processes a GoogleTest program shares.
//
// RedisEnvironment is a gtest Environment (registered by redis_test_main.cpp) holding a plain
// server and one with requirepass, each a RedisServer (redis_server_process.hpp): a real
// redis-server on a free loopback port in a TempDir, killed at the end. When redis-server is
// missing or does not start, every test that asks for a server FAILS with a message saying
// what to install; nothing is skipped silently.
//
// Thread safety: test code, used from the main thread.

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "redis_server_process.hpp"

namespace engram::testing {

// The servers shared by one test program. Register it in main() or with
// ::testing::AddGlobalTestEnvironment(new RedisEnvironment) (see redis_test_main.cpp).
class RedisEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    instance_ = this;
    try {
      plain_ = std::make_unique<RedisServer>();
      plain_->start();
      secured_ = std::make_unique<RedisServer>(RedisServerConfig{.password = "engram s3cret!"});
      secured_->start();
    } catch (const std::exception& e) {
      error_ = e.what();
      ADD_FAILURE() << "Redis test environment: " << error_;
    }
  }
  void TearDown() override {
    plain_.reset();
    secured_.reset();
  }

  // The plain server / the one with requirepass; throw (failing the calling test with the
  // reason) when they could not be started.
  static RedisServer& plain() { return get(&RedisEnvironment::plain_); }
  static RedisServer& secured() { return get(&RedisEnvironment::secured_); }

 private:
  static RedisServer& get(std::unique_ptr<RedisServer> RedisEnvironment::*which) {
    if (instance_ == nullptr) throw std::runtime_error("RedisEnvironment is not registered in this test program");
    auto& server = instance_->*which;
    if (!server || !server->running()) {
      throw std::runtime_error("no redis-server for this test: " +
                               (instance_->error_.empty() ? std::string("it was stopped") : instance_->error_));
    }
    return *server;
  }

  static inline RedisEnvironment* instance_ = nullptr;
  std::unique_ptr<RedisServer> plain_, secured_;
  std::string error_;
};

}  // namespace engram::testing
