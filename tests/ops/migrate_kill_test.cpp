// A migration killed with SIGKILL at a random point (the real `engram` binary as a child
// process, killed after a random number of its progress lines) resumes on the next run and
// ends identical to the source.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <random>
#include <string>

#include "ops_test_data.hpp"
#include "temp_dir.hpp"
#include "transfer.hpp"
#include "verify.hpp"

namespace {

using namespace engram;

struct Child {
  pid_t pid = -1;
  std::FILE* err = nullptr;  // the child's stderr
};

Child spawn(const std::vector<std::string>& args) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  return Child{pid, ::fdopen(fds[0], "r")};
}

int wait_for(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(MigrateKill, KilledMigrationResumesAndVerifies) {
  engram::testing::TempDir dir;
  const std::string src_uri = "sqlite:" + (dir.path() / "src.db").string();
  const std::string dst_uri = "sqlite:" + (dir.path() / "dst.db").string();
  {
    AnyStore src = open_store(src_uri);
    engram::testing::fill_ops_store(src, 40000);
  }
  std::mt19937 rng(std::random_device{}());
  const int lines_before_kill = std::uniform_int_distribution<int>(2, 30)(rng);
  const std::vector<std::string> args = {
      ENGRAM_CLI, "migrate", src_uri, dst_uri, "--batch-size", "500", "--progress-interval-ms", "0"};
  Child child = spawn(args);
  char line[512];
  int seen = 0;
  while (seen < lines_before_kill && std::fgets(line, sizeof line, child.err) != nullptr)
    if (std::string(line).find("rows") != std::string::npos) ++seen;
  ::kill(child.pid, SIGKILL);
  const int status = wait_for(child.pid);
  std::fclose(child.err);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the migration finished before it could be killed (" << seen << " lines)";

  {
    AnyStore dst = open_store(dst_uri, {.must_exist = true});
    dst.open_recorded();
    EXPECT_EQ(dst.read_meta(tool::kMetaMigrateState), "running");
    EXPECT_LT(dst.count(), 40000u);
  }
  // The second run resumes after the recorded id and completes.
  Child again = spawn(args);
  std::string output;
  while (std::fgets(line, sizeof line, again.err) != nullptr) output += line;
  std::fclose(again.err);
  const int status2 = wait_for(again.pid);
  ASSERT_TRUE(WIFEXITED(status2)) << output;
  ASSERT_EQ(WEXITSTATUS(status2), 0) << output;

  AnyStore src = open_store(src_uri, {.must_exist = true});
  src.open_recorded();
  AnyStore dst = open_store(dst_uri, {.must_exist = true});
  dst.open_recorded();
  EXPECT_EQ(dst.read_meta(tool::kMetaMigrateState), "done");
  const tool::VerifyReport report = tool::verify_stores(src, dst, {});
  EXPECT_TRUE(report.identical()) << report.to_text();
  EXPECT_EQ(report.compared, 40000u);
}

}  // namespace
