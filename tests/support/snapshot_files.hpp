#pragma once
// Helpers for the snapshot-file tests of the stores: whole-file reads and writes, and the check
// that a snapshot file is private (mode 0600) whatever the process's umask.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

namespace engram::testing {

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Calls snapshot(path) under umasks 0, 022 and 0277; each file written must be mode 0600.
template <class Snapshot>
void expect_snapshots_private_whatever_the_umask(const std::filesystem::path& dir, Snapshot&& snapshot) {
  int n = 0;
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{0277}}) {
    const mode_t previous = ::umask(mask);
    const auto path = dir / ("snap" + std::to_string(n++));
    snapshot(path);
    ::umask(previous);
    struct stat st {};
    ASSERT_EQ(::lstat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << "umask " << std::oct << mask;
  }
}

}  // namespace engram::testing
