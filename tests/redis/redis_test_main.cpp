// main() of the Redis test programs: registers the shared redis-server environment.
#include <gtest/gtest.h>

#include "redis_server.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new engram::testing::RedisEnvironment);
  return RUN_ALL_TESTS();
}
